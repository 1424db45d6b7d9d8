// The `diff` of an edit observation as OpenHands' own server made it (openhands_aci get_diff:
// Python's difflib.unified_diff over the texts split at '\n', no context lines, each line
// right-trimmed), so its UI and parse_diff read ours alike. `diff` is loaded on the first edit.

/** Unified diff of `oldText` to `newText` with zero context, headers `--- path` / `+++ path`; '' when equal. */
export async function editDiff(oldText: string, newText: string, path: string): Promise<string> {
  const { diffArrays } = await import('diff');
  const a = oldText.split('\n');
  const b = newText.split('\n');
  const out: string[] = [];
  let i = 0; // lines of a consumed
  let j = 0; // lines of b consumed
  let hunk: { i: number; j: number; removed: string[]; added: string[] } | null = null;
  const flush = () => {
    if (!hunk) return;
    if (out.length === 0) out.push(`--- ${path}`, `+++ ${path}`);
    out.push(`@@ -${range(hunk.i, hunk.removed.length)} +${range(hunk.j, hunk.added.length)} @@`);
    for (const line of hunk.removed) out.push(`-${line}`);
    for (const line of hunk.added) out.push(`+${line}`);
    hunk = null;
  };
  for (const part of diffArrays(a, b)) {
    const n = part.value.length;
    if (!part.added && !part.removed) {
      flush();
      i += n;
      j += n;
      continue;
    }
    hunk ??= { i, j, removed: [], added: [] };
    if (part.removed) {
      hunk.removed.push(...part.value);
      i += n;
    } else {
      hunk.added.push(...part.value);
      j += n;
    }
  }
  flush();
  return out.map((line) => line.trimEnd()).join('\n');
}

/** difflib's _format_range_unified: "start,length", "start" alone for one line, start-1 for none. */
function range(start: number, length: number): string {
  if (length === 1) return String(start + 1);
  return `${length === 0 ? start : start + 1},${length}`;
}
