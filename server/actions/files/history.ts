// What undo_edit restores: the earlier versions of each edited file, bounded in count and size.
export class EditHistory {
  private readonly versions = new Map<string, string[]>();

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

  push(path: string, content: string): void {
    if (content.length > this.maxBytes) return;
    const list = this.versions.get(path) ?? [];
    this.versions.delete(path); // re-insert: most recently edited last
    list.push(content);
    if (list.length > this.perFile) list.shift();
    this.versions.set(path, list);
    while (this.versions.size > this.maxFiles) this.versions.delete(this.versions.keys().next().value!);
  }

  pop(path: string): string | undefined {
    const list = this.versions.get(path);
    const content = list?.pop();
    if (list && list.length === 0) this.versions.delete(path);
    return content;
  }
}
