// From a request body to a recorded observation: validation, ids and idempotent replay, dispatch
// by kind, and the one log line per action.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { statSync } from 'node:fs';
import { ArgsByKind, ExecuteRequest, IGNORED_ARGS, UNSUPPORTED_OPENHANDS_KINDS, type Action, type ActionKind, type Observation } from '@runtime-client/protocol';
import { ApiError, validationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionPool } from '../shell/pool.js';
import { FileActions } from './files/index.js';
import type { ActionRecord } from './record.js';
import type { ActionStore } from './store.js';

/** `extras.command` in a recorded observation keeps at most this many characters; the rest is noted, not kept. */
export const MAX_RECORDED_COMMAND_CHARS = 4096;

export class Executor {
  /** When the last action finished (ms since epoch), for idle_time. */
  lastFinishedAt = Date.now();

  constructor(
    private readonly pool: SessionPool,
    private readonly store: ActionStore,
    private readonly log: Logger,
    /** read, write and edit; pass one that knows the session user when the server acts for another. */
    private readonly files: FileActions = new FileActions(),
  ) {}

  /** Checks an /execute_action body (or a WS execute frame); throws a 400 naming the field. */
  parse(body: unknown, fallbackId?: string): { id: string; action: Action } {
    const envelope = ExecuteRequest.safeParse(body);
    if (!envelope.success) throw validationError(envelope.error, '');
    const { action, id } = envelope.data;
    const kind = action.action;
    const id_ = id ?? fallbackId ?? randomUUID();
    if (UNSUPPORTED_OPENHANDS_KINDS.has(kind)) {
      return { id: id_, action: { kind: 'unsupported', name: kind, args: action.args, timeout: action.timeout ?? undefined } };
    }
    if (!Object.hasOwn(ArgsByKind, kind)) {
      throw new ApiError('bad_request', `action.action: unknown action kind ${JSON.stringify(kind)}; expected one of ${Object.keys(ArgsByKind).join(', ')}`, {
        issues: [{ path: 'action.action', message: 'unknown action kind' }],
      });
    }
    const args = ArgsByKind[kind as ActionKind].safeParse(action.args);
    if (!args.success) throw validationError(args.error, 'action.args');
    return { id: id_, action: { kind, args: args.data, timeout: action.timeout ?? undefined } as Action };
  }

  /**
   * Starts the action, or returns the record of the one already run under this id. An id already
   * used for a different action (kind, args or timeout) is a 409 `conflict`.
   */
  submit(id: string, action: Action): ActionRecord {
    const session = action.kind === 'unsupported' ? 'default' : action.args.session;
    const fingerprint = fingerprintOf(action);
    const { record, fresh } = this.store.claim(id, action.kind === 'unsupported' ? action.name : action.kind, session, fingerprint);
    if (!fresh) {
      if (record.fingerprint !== fingerprint) {
        throw new ApiError(
          'conflict',
          `the id ${JSON.stringify(id)} was already used for a different action; send this one under a new id (the same action under the same id returns its recorded observation)`,
        );
      }
      return record;
    }
    this.dispatch(action, record).then(
      (observation) => this.finish(record, observation),
      (error: Error) => {
        this.log.error({ id, err: error }, 'action failed');
        this.finish(record, {
          observation: 'error',
          content: `ERROR: the action could not be carried out: ${error.message}`,
          extras: { error_id: error instanceof ApiError ? error.code : 'internal' },
          success: false,
        });
      },
    );
    return record;
  }

  get(id: string): ActionRecord | undefined {
    return this.store.get(id);
  }

  private async dispatch(action: Action, record: ActionRecord): Promise<Observation> {
    const sink = (raw: string | null, encoded?: Buffer) => record.pushOutput(raw, encoded);
    switch (action.kind) {
      case 'unsupported':
        return {
          observation: 'error',
          content: `ERROR: This runtime does not run "${action.name}" actions (it runs ${Object.keys(ArgsByKind).join(', ')}); nothing was done.`,
          extras: { error_id: 'unsupported_action' },
          success: false,
        };
      case 'run_ipython':
        return this.pool.get(action.args.session).ipython(action.args, action.timeout, sink);
      case 'read':
        return this.files.read(action.args, this.pool.get(action.args.session).cwd);
      case 'write':
        return this.files.write(action.args, this.pool.get(action.args.session).cwd);
      case 'edit':
        return this.files.edit(action.args, this.pool.get(action.args.session).cwd);
    }
    const args = action.args;
    if (args.is_static) {
      if (args.cwd && !isDirectory(args.cwd)) {
        return { observation: 'error', content: `ERROR: The cwd ${args.cwd} is not a directory; the command was not run.`, extras: { error_id: 'bad_cwd' }, success: false };
      }
      const { runner, dispose } = this.pool.throwaway(args.cwd ?? undefined);
      try {
        return await runner.execute({ ...args, blocking: true }, action.timeout, sink);
      } finally {
        dispose();
      }
    }
    return this.pool.get(args.session).execute(args, action.timeout, sink);
  }

  private finish(record: ActionRecord, observation: Observation): void {
    record.finish(truncateCommand(observation));
    this.lastFinishedAt = Date.now();
    const exitCode = observation.observation === 'run' ? observation.extras.metadata.exit_code : undefined;
    this.log.info(
      { id: record.id, kind: record.kind, session: record.session, durationMs: Date.now() - record.startedAt, exitCode },
      'action',
    );
  }
}

/**
 * A digest of the action in a canonical form: defaults applied, keys sorted, the args that carry
 * no meaning (`thought` and the like) left out. Two sends of the same action give the same digest.
 */
export function fingerprintOf(action: Action): string {
  const hash = createHash('sha256');
  const args = Object.fromEntries(Object.entries(action.args).filter(([key]) => !IGNORED_ARGS.has(key)));
  feed(hash, { kind: action.kind === 'unsupported' ? `unsupported:${action.name}` : action.kind, args, timeout: action.timeout ?? null });
  return hash.digest('base64');
}

/** Canonical JSON-like serialization into `hash`, without building one big string (a command can be 10 MB). */
function feed(hash: Hash, value: unknown): void {
  if (value === undefined || value === null) hash.update('n;');
  else if (typeof value === 'string') {
    // UTF-8 (half the bytes of UTF-16 for ASCII) when it is exact; every code unit when the text
    // has a lone surrogate, which UTF-8 would turn into U+FFFD. The tags keep the two apart.
    if ((value as string & { isWellFormed(): boolean }).isWellFormed()) hash.update(`u${value.length}:`).update(value, 'utf8');
    else hash.update(`s${value.length}:`).update(value, 'utf16le');
  }
  else if (typeof value !== 'object') hash.update(`${typeof value}:${String(value)};`);
  else if (Array.isArray(value)) {
    hash.update(`a${value.length}[`);
    for (const item of value) feed(hash, item);
    hash.update(']');
  } else {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    hash.update(`o${entries.length}{`);
    for (const [key, item] of entries) {
      feed(hash, key);
      feed(hash, item);
    }
    hash.update('}');
  }
}

/** A run observation whose `extras.command` is over MAX_RECORDED_COMMAND_CHARS keeps its head and says how long it was. */
export function truncateCommand(observation: Observation): Observation {
  if (observation.observation !== 'run' || observation.extras.command.length <= MAX_RECORDED_COMMAND_CHARS) return observation;
  const command = observation.extras.command;
  return {
    ...observation,
    extras: {
      ...observation.extras,
      command: `${command.slice(0, MAX_RECORDED_COMMAND_CHARS)}\n[command truncated: ${command.length} characters in all]`,
    },
  };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
