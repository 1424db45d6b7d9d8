// Where an archive's symlinks lead once it is unpacked, found the way the kernel resolves a path:
// component by component, each `..` taken from the directory actually reached, following the
// links the archive itself makes. Checking each link alone is not enough: `x/l1 -> ..` and
// `l2 -> x/l1/..` each stay inside, but l2 leads one level above the destination.

/** Symlinks followed in one resolution before it is given up as a loop: the kernel's MAXSYMLINKS. */
export const MAX_LINKS = 40;

/** Where a symlink leads, or why it may not be made. */
export type LinkResolution =
  /** Inside the destination: `path` relative to it ('' for the destination itself). */
  | { inside: true; path: string; links: number }
  /**
   * Refused. 'above': a `..` leaves the destination. 'absolute': a target starts with '/'.
   * 'loop': more than MAX_LINKS links to follow. `via`: the other symlinks followed on the way.
   */
  | { inside: false; why: 'above' | 'absolute' | 'loop'; via: string[] };

/** Internal: a resolution cut off because the links nest deeper than MAX_LINKS (so the outermost loops). */
type Deep = { deep: true };

/**
 * Resolves the symlinks of one archive, each once: `links` maps a symlink's path (normalized,
 * relative to the destination, with no symlink among its parents) to its target as stored. A name
 * the archive does not make as a symlink is taken as a plain directory (or a missing name): a
 * `..` after it comes back to where it was reached from.
 */
export class LinkResolver {
  readonly #links: ReadonlyMap<string, string>;
  readonly #done = new Map<string, LinkResolution>();
  readonly #resolving = new Set<string>();

  constructor(links: ReadonlyMap<string, string>) {
    this.#links = links;
  }

  /** Where the symlink at `path` (a key of `links`) leads. */
  resolve(path: string): LinkResolution {
    const r = this.#resolve(path, 0);
    return 'deep' in r ? { inside: false, why: 'loop', via: [] } : r;
  }

  #resolve(path: string, depth: number): LinkResolution | Deep {
    const known = this.#done.get(path);
    if (known) return known;
    // A link met again while it is being resolved: the kernel would go round until MAX_LINKS.
    if (this.#resolving.has(path)) return { inside: false, why: 'loop', via: [] };
    if (depth > MAX_LINKS) return { deep: true };
    this.#resolving.add(path);
    try {
      const r = this.#walk(path, depth);
      if (!('deep' in r)) this.#done.set(path, r);
      return r;
    } finally {
      this.#resolving.delete(path);
    }
  }

  /** Walks the target of `path` from its parent directory; counts the link itself and each one met. */
  #walk(path: string, depth: number): LinkResolution | Deep {
    const target = this.#links.get(path)!;
    if (target.startsWith('/')) return { inside: false, why: 'absolute', via: [] };
    const dir = path.split('/').slice(0, -1);
    const followed: string[] = [];
    let links = 1;
    for (const name of target.split('/')) {
      if (name === '' || name === '.') continue;
      if (name === '..') {
        if (dir.length === 0) return { inside: false, why: 'above', via: followed };
        dir.pop();
        continue;
      }
      const next = dir.length === 0 ? name : `${dir.join('/')}/${name}`;
      if (!this.#links.has(next)) {
        dir.push(name);
        continue;
      }
      const r = this.#resolve(next, depth + 1);
      if ('deep' in r) return r;
      followed.push(next);
      if (!r.inside) return { ...r, via: [...followed, ...r.via] };
      links += r.links;
      if (links > MAX_LINKS) return { inside: false, why: 'loop', via: followed };
      dir.splice(0, dir.length, ...(r.path === '' ? [] : r.path.split('/')));
    }
    return { inside: true, path: dir.join('/'), links };
  }
}
