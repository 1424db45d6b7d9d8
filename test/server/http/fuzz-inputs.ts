// Seeded random inputs for the parser fuzz test: random JSON values, valid requests and frames,
// and mutations of both (of the value, and of its JSON text). Same seed, same inputs.
import { join } from 'node:path';

/** mulberry32: a small, fast, seeded generator of floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Gen {
  readonly random: () => number;
  constructor(seed: number) {
    this.random = rng(seed);
  }

  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Strings that find edges: empty, long, NUL, controls, lone surrogates, brackets, quotes, escapes. */
  string(): string {
    const pieces = ['', 'a', 'ls', 'echo hi', '\u0000', '\n', '\r\n', '\t', '\u001b[31m', '\\', '"', "'", '[', ']', '{', '}', '\ud800', '\udc00', '😀', 'é', '\u2028', '..', '/', '%s', '$(x)', '`x`', ' ', 'C-c', 'default', '__proto__'];
    const n = this.int(6);
    let s = '';
    for (let i = 0; i < n; i++) {
      const kind = this.int(10);
      if (kind < 6) s += this.pick(pieces);
      else if (kind < 9) s += String.fromCharCode(this.int(0x80));
      else s += String.fromCharCode(this.int(0x10000));
    }
    if (this.chance(0.02)) s += 'z'.repeat(this.int(100_000));
    return s;
  }

  number(): number {
    return this.pick([0, -0, 1, -1, 0.5, 1e-300, 2 ** 31, 2 ** 31 - 1, 2 ** 53 + 2, 1e308, -1e308, 2_147_483, 2_147_483.647, 2_147_484, 3e9, this.random() * 1e6, -this.int(100), this.int(100)]);
  }

  key(): string {
    return this.pick(['action', 'args', 'command', 'path', 'timeout', 'id', 'type', 'key', 'from_seq', 'session', 'is_input', 'blocking', 'cwd', 'is_static', 'content', 'start', 'end', 'file_text', 'old_str', 'new_str', 'insert_line', 'view_range', '__proto__', 'constructor', 'toString', '', this.string()]);
  }

  /** Any JSON value, nested up to `depth`. */
  value(depth = 3): unknown {
    const kind = this.int(depth > 0 ? 8 : 5);
    switch (kind) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.number();
      case 3:
      case 4:
        return this.string();
      case 5:
      case 6: {
        const o: Record<string, unknown> = {};
        for (let i = this.int(5); i > 0; i--) set(o, this.key(), this.value(depth - 1));
        return o;
      }
      default:
        return Array.from({ length: this.int(5) }, () => this.value(depth - 1));
    }
  }

  /** A valid /execute_action body of any kind, with paths under `dir`. */
  validRequest(dir: string): Record<string, unknown> {
    const path = join(dir, this.pick(['f1', 'f2', 'sub', '']));
    const args = this.pick([
      () => ({ command: this.pick(['echo fuzz', 'true', 'printf x', 'pwd', '']), ...(this.chance(0.3) ? { blocking: this.chance(0.5) } : {}), ...(this.chance(0.1) ? { is_input: true } : {}), ...(this.chance(0.03) ? { is_static: true, cwd: dir } : {}), ...(this.chance(0.2) ? { session: 'fuzz' } : {}) }),
      () => ({ path, ...(this.chance(0.3) ? { start: this.int(5), end: this.int(5) - 1 } : {}) }),
      () => ({ path, content: this.string() }),
      () => ({ path, command: 'create', file_text: this.string() }),
      () => ({ path, command: 'view', ...(this.chance(0.5) ? { view_range: [1, this.int(5)] } : {}) }),
      () => ({ path, command: 'str_replace', old_str: this.string(), new_str: this.string() }),
      () => ({ path, command: 'insert', insert_line: this.int(3), new_str: this.string() }),
      () => ({ path, command: 'undo_edit' }),
    ])();
    const kind = 'command' in args && !('path' in args) ? 'run' : 'file_text' in args || 'old_str' in args || 'insert_line' in args || 'view_range' in args || args.command === 'view' || args.command === 'undo_edit' ? 'edit' : 'content' in args ? 'write' : 'read';
    return {
      action: { action: kind, args: { ...args, ...(this.chance(0.2) ? { thought: this.string(), security_risk: 0 } : {}) }, ...(this.chance(0.3) ? { timeout: this.pick([1, 5, 30, 2_147_483]) } : {}) },
      ...(this.chance(0.5) ? { id: `fz-${this.int(1e9)}` } : {}),
    };
  }

  /** A valid client WebSocket frame. */
  validFrame(dir: string, key: string): Record<string, unknown> {
    const r = this.int(10);
    if (r < 6) return { type: 'execute', id: `fz-${this.int(1e9)}`, action: this.validRequest(dir).action };
    if (r < 8) return { type: 'attach', id: `fz-${this.int(1e9)}`, from_seq: this.int(3) };
    return { type: 'auth', key: this.chance(0.7) ? key : this.string() };
  }

  /** A changed copy: a few edits anywhere in the tree (delete, replace, retype, add, wrap). */
  mutate(value: unknown): unknown {
    const copy = structuredClone(value);
    for (let n = 1 + this.int(3); n > 0; n--) this.mutateOnce(copy);
    return copy;
  }

  private mutateOnce(root: unknown): void {
    // Walk to a random container.
    let node = root;
    for (let steps = this.int(4); steps > 0; steps--) {
      const children = node && typeof node === 'object' ? Object.values(node).filter((v) => v && typeof v === 'object') : [];
      if (!children.length) break;
      node = this.pick(children);
    }
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    const keys = Object.keys(o);
    const key = keys.length && this.chance(0.8) ? this.pick(keys) : this.key();
    // Own values only: `o.__proto__` or `o.constructor` would hand this mutator Object.prototype,
    // and a later mutation would then pollute the test process itself.
    const own = Object.hasOwn(o, key) ? o[key] : undefined;
    switch (this.int(7)) {
      case 0:
        delete o[key];
        break;
      case 1:
        set(o, key, this.value(2));
        break;
      case 2: {
        const v = own;
        set(o, key, typeof v === 'string' ? (this.chance(0.5) ? v + this.string() : v.slice(0, this.int(v.length + 1))) : typeof v === 'number' ? this.number() : this.string());
        break;
      }
      case 3:
        set(o, key, [own]);
        break;
      case 4:
        set(o, key, this.nested(this.pick([5, 50, 99, 101, 150]), own));
        break;
      case 5:
        set(o, key, this.number());
        break;
      default:
        set(o, key, this.chance(0.5));
    }
  }

  /** `inner` wrapped in `depth` arrays or objects. */
  nested(depth: number, inner: unknown): unknown {
    let v = inner;
    for (let i = 0; i < depth; i++) v = this.chance(0.5) ? [v] : { a: v };
    return v;
  }

  /** A changed copy of JSON text: bytes flipped, cut, inserted, brackets piled up. */
  mutateText(text: string): string {
    let t = text;
    for (let n = 1 + this.int(3); n > 0; n--) {
      const at = this.int(t.length + 1);
      switch (this.int(6)) {
        case 0:
          t = t.slice(0, at);
          break;
        case 1:
          t = t.slice(0, at) + String.fromCharCode(this.int(0x100)) + t.slice(at + 1);
          break;
        case 2:
          t = t.slice(0, at) + this.pick(['[', ']', '{', '}', '"', '\\', ',', ':', 'null', '1e999', '-', '\u0000', '\ud800']) + t.slice(at);
          break;
        case 3:
          t = t.slice(0, at) + '['.repeat(this.int(300)) + t.slice(at);
          break;
        case 4:
          t = t.slice(0, at) + t.slice(at + this.int(10));
          break;
        default:
          t = t.slice(0, at) + t.slice(this.int(t.length + 1));
      }
    }
    return t;
  }
}

/** `path` if it names `dir` or an entry right in it; else a name in `dir` made from it. */
function inside(dir: string, path: string): string {
  const name = path.startsWith(dir) ? path.slice(dir.length).replace(/^\//, '') : path;
  return join(dir, name.replace(/[/\\]/g, '_').replace(/\.\./g, '__'));
}

/** An own property even for `__proto__`, as JSON.parse makes it. */
function set(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Makes a parsed request or frame harmless to run, keeping its shape: a `run` command becomes a
 * one-line bash comment (a NUL stays, to be refused), paths go under `dir`, any valid session name
 * becomes `fuzz`, a static command's cwd goes under `dir`. Anything of another type is left to be
 * refused by the schema. Changes `value` in place; says whether it changed anything.
 */
export function defuse(value: unknown, dir: string): boolean {
  const before = JSON.stringify(value);
  const holder = value && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  const action = holder && typeof holder.action === 'object' && holder.action ? (holder.action as Record<string, unknown>) : null;
  const args = action && typeof action.args === 'object' && action.args && !Array.isArray(action.args) ? (action.args as Record<string, unknown>) : null;
  if (!args) return false;
  // An edit's command names an editor operation and never reaches bash; any other kind's might.
  if (action!.action !== 'edit' && typeof args.command === 'string' && args.command !== '') {
    // eslint-disable-next-line no-control-regex
    args.command = '# ' + args.command.replace(/[\u0001-\u001f\u007f\u2028\u2029\u0085]/g, '');
  }
  if (typeof args.path === 'string') args.path = inside(dir, args.path);
  if (typeof args.cwd === 'string') args.cwd = inside(dir, args.cwd);
  if (typeof args.session === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(args.session)) args.session = 'fuzz';
  return JSON.stringify(value) !== before;
}
