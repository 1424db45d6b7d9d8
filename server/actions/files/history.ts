// What undo_edit restores: the earlier versions of each edited file, bounded in count and size.
/** An earlier version of a file: its text, or null when it did not exist (undo removes the file). */
export type Version = string | null;

export class EditHistory {
  private readonly versions = new Map<string, Version[]>();

  /**
   * @param perFile versions kept per file (default 10)
   * @param maxFiles files remembered, oldest edit forgotten first (default 200)
   * @param maxBytes a version larger than this (UTF-16 code units) is not kept (default 4 Mi)
   */
  constructor(
    private readonly perFile = 10,
    private readonly maxFiles = 200,
    private readonly maxBytes = 4 * 1024 * 1024,
  ) {}

  /** Keeps `content` as the version before an edit of `path`; one too large to keep ends the chain. */
  push(path: string, content: string): void {
    // Undo must restore the version just before; it never skips back past one it could not keep.
    if (content.length > this.maxBytes) return void this.versions.delete(path);
    this.add(path, content);
  }

  /** `path` was just created: undo removes it. Versions of an earlier file there are forgotten. */
  created(path: string): void {
    this.versions.delete(path);
    this.add(path, null);
  }

  /** The version undo would restore, left in place; undefined when there is none. */
  peek(path: string): Version | undefined {
    return this.versions.get(path)?.at(-1);
  }

  pop(path: string): Version | undefined {
    const list = this.versions.get(path);
    const content = list?.pop();
    if (list && list.length === 0) this.versions.delete(path);
    return content;
  }

  private add(path: string, version: Version): void {
    const list = this.versions.get(path) ?? [];
    this.versions.delete(path); // re-insert: most recently edited last
    list.push(version);
    if (list.length > this.perFile) list.shift();
    this.versions.set(path, list);
    while (this.versions.size > this.maxFiles) this.versions.delete(this.versions.keys().next().value!);
  }
}
