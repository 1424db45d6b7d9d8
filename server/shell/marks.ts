// The completion mark: an OSC sequence the shell prints at every prompt, carrying a per-shell
// secret nonce, the exit status, the python on PATH and the cwd. Program output cannot forge it
// without the nonce, and terminals ignore it.

/** OSC 6973 is unassigned; terminals drop unknown OSC sequences. */
export const MARK_START = '\x1b]6973;';
const MARK_END = '\x07';
const FIELD = '\x1f';
/** A would-be mark longer than this is output, not a mark (bounds the carry). */
const MAX_MARK = 8192;

export interface Mark {
  /**
   * `P` from PROMPT_COMMAND (authoritative; an `S` of the same prompt follows), `Q` the same
   * with no `S` following (stderr is not the terminal, so PS1 carries none), `S` from PS1 (the
   * fallback when a command replaced PROMPT_COMMAND).
   */
  source: 'P' | 'Q' | 'S';
  exitCode: number;
  pythonPath: string | null;
  cwd: string;
}

/**
 * The rc file every session's bash reads. It holds no secret: its first line reads the mark's
 * nonce from the terminal (the server types it; `read -s`, so the terminal does not echo it), so
 * the nonce is in no file, argument or environment that a program in the session could read.
 * Then the user's usual rc files, then the hooks, so nothing the user's files set can displace
 * them. Each prompt prints two marks: PROMPT_COMMAND prints one with the exit status it captured
 * first thing (`$?` in PS1 is stale after a parse error), straight to the terminal (/dev/tty), so
 * `exec 2>file` or `exec >file` in the session cannot divert it; PS1 carries a second one, used
 * only when a command replaced PROMPT_COMMAND, and set only while stderr is the terminal (bash
 * prints the prompt on stderr: a redirected stderr would receive the nonce). PROMPT_COMMAND also
 * puts PS1 back, so a command that rewrites PS1 (a virtualenv's activate) leaves no prompt text
 * in the output. Before its mark, PROMPT_COMMAND drops input typed into a command that never read
 * it (an `is_input` line or a C-d sent to a program that had already finished): at the prompt,
 * bash would otherwise run those lines as commands, or end on the C-d. Everything here must
 * survive `set -euo pipefail`.
 */
export function rcScript(): string {
  return `# runtime-client session hooks (generated)
IFS= builtin read -r -s __rc_nonce || __rc_nonce=
builtin declare -r __rc_nonce
[ -r /etc/bash.bashrc ] && . /etc/bash.bashrc
[ -r "$HOME/.bashrc" ] && . "$HOME/.bashrc"
set +o history +H 2>/dev/null || :
__rc_ps1=$'${MARK_START}'"$__rc_nonce"';S;\${?};\${__rc_py-}'$'${FIELD}''\${PWD}'$'${MARK_END}'
__rc_mark() {
  builtin printf '${MARK_START}%s;%s;%s;%s${FIELD}%s${MARK_END}' "$__rc_nonce" "$1" "\${__rc_ec-0}" "$__rc_py" "$PWD"
}
__rc_prompt() {
  while builtin read -r -t 0 2>/dev/null; do builtin read -r -t 0.01 __rc_junk 2>/dev/null || break; done
  hash python 2>/dev/null || hash python3 2>/dev/null || :
  __rc_py=\${BASH_CMDS[python]-\${BASH_CMDS[python3]-}}
  if [ -t 2 ]; then PS1=$__rc_ps1 __rc_src=P; else PS1= __rc_src=Q; fi
  { __rc_mark $__rc_src >/dev/tty; } 2>/dev/null || __rc_mark $__rc_src >&2
  PS2='' PS0=''
}
if [[ "$(declare -p PROMPT_COMMAND 2>/dev/null)" == "declare -a"* ]]; then
  PROMPT_COMMAND=('__rc_ec=$?' "\${PROMPT_COMMAND[@]}" __rc_prompt)
else
  __rc_nl=$'\\n'
  PROMPT_COMMAND="__rc_ec=\\$?\${__rc_nl}\${PROMPT_COMMAND:+$PROMPT_COMMAND$__rc_nl}__rc_prompt"
fi
PS1=$__rc_ps1 PS2='' PS0=''
`;
}

/** What the server types first into a new shell: the nonce, read by rcScript's first line. */
export function nonceLine(nonce: string): string {
  return nonce + '\r';
}

/** The longest command line sent inline; longer ones go through a file (a tty line holds 4095 bytes). */
export const MAX_INLINE_LINE = 3800;

/** One line that runs `command` as a unit: bash ANSI-C quoting keeps it printable and single-line. */
export function inlineCommandLine(command: string): string {
  let quoted = '';
  for (const ch of command) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') quoted += '\\\\';
    else if (ch === "'") quoted += "\\'";
    else if (ch === '\n') quoted += '\\n';
    else if (ch === '\t') quoted += '\\t';
    else if (code < 0x20 || code === 0x7f) quoted += '\\x' + code.toString(16).padStart(2, '0');
    else quoted += ch;
  }
  return ` \\builtin eval -- $'${quoted}'`;
}

/** The line that runs a command kept in a file (for commands too long to send inline). */
export function fileCommandLine(path: string): string {
  return ` \\builtin source -- '${path.replace(/'/g, `'\\''`)}'`;
}

/** Splits the pty stream into output and marks; a mark split across chunks is carried over. */
export class MarkScanner {
  private carry = '';
  constructor(
    private readonly nonce: string,
    private readonly onOutput: (text: string) => void,
    private readonly onMark: (mark: Mark) => void,
  ) {}

  push(data: string): void {
    let s = this.carry + data;
    this.carry = '';
    for (;;) {
      const start = s.indexOf(MARK_START);
      if (start === -1) {
        const keep = partialPrefixLength(s);
        if (s.length > keep) this.onOutput(s.slice(0, s.length - keep));
        this.carry = s.slice(s.length - keep);
        return;
      }
      if (start > 0) this.onOutput(s.slice(0, start));
      const end = s.indexOf(MARK_END, start);
      if (end === -1) {
        if (s.length - start > MAX_MARK) {
          this.onOutput(s.slice(start, start + MARK_START.length));
          s = s.slice(start + MARK_START.length);
          continue;
        }
        this.carry = s.slice(start);
        return;
      }
      const mark = this.parse(s.slice(start + MARK_START.length, end));
      if (mark) this.onMark(mark);
      else this.onOutput(s.slice(start, end + 1));
      s = s.slice(end + 1);
    }
  }

  /** Whatever is held back, as output (used when the shell goes away). */
  flush(): void {
    if (this.carry) this.onOutput(this.carry);
    this.carry = '';
  }

  private parse(body: string): Mark | null {
    // nonce;P|S;exit;python<US>cwd
    const head = this.nonce + ';';
    if (!body.startsWith(head)) return null;
    const source = body[head.length];
    if ((source !== 'P' && source !== 'Q' && source !== 'S') || body[head.length + 1] !== ';') return null;
    const semi1 = head.length + 1;
    const semi2 = body.indexOf(';', semi1 + 1);
    const sep = body.indexOf(FIELD, semi2 + 1);
    if (semi2 === -1 || sep === -1) return null;
    const exitCode = Number(body.slice(semi1 + 1, semi2));
    if (!Number.isInteger(exitCode)) return null;
    const py = body.slice(semi2 + 1, sep);
    return { source, exitCode, pythonPath: py || null, cwd: body.slice(sep + 1) };
  }
}

/** Length of the longest suffix of `s` that is a proper prefix of MARK_START. */
function partialPrefixLength(s: string): number {
  const max = Math.min(MARK_START.length - 1, s.length);
  for (let n = max; n > 0; n--) {
    if (MARK_START.startsWith(s.slice(s.length - n))) return n;
  }
  return 0;
}
