// From a request body to a recorded observation: validation, ids and idempotent replay, dispatch
// by kind, and the one log line per action.
import { randomUUID } from 'node:crypto';
import { ArgsByKind, ExecuteRequest, type Action, type ActionKind, type Observation } from '../../protocol/index.js';
import { ApiError, validationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionPool } from '../shell/pool.js';
import { FileActions } from './files/index.js';
import type { ActionRecord } from './record.js';
import type { ActionStore } from './store.js';

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
    if (!Object.hasOwn(ArgsByKind, kind)) {
      throw new ApiError('bad_request', `action.action: unknown action kind ${JSON.stringify(kind)}; expected one of ${Object.keys(ArgsByKind).join(', ')}`, {
        issues: [{ path: 'action.action', message: 'unknown action kind' }],
      });
    }
    const args = ArgsByKind[kind as ActionKind].safeParse(action.args);
    if (!args.success) throw validationError(args.error, 'action.args');
    return {
      id: id ?? fallbackId ?? randomUUID(),
      action: { kind, args: args.data, timeout: action.timeout ?? undefined } as Action,
    };
  }

  /** Starts the action, or returns the record of the one already run under this id. */
  submit(id: string, action: Action): ActionRecord {
    const session = 'session' in action.args ? action.args.session : 'default';
    const { record, fresh } = this.store.claim(id, action.kind, session);
    if (!fresh) return record;
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
    switch (action.kind) {
      case 'read':
        return this.files.read(action.args, this.pool.get(action.args.session).cwd);
      case 'write':
        return this.files.write(action.args, this.pool.get(action.args.session).cwd);
      case 'edit':
        return this.files.edit(action.args, this.pool.get(action.args.session).cwd);
    }
    const args = action.args;
    const sink = (raw: string) => record.pushOutput(raw);
    if (args.is_static) {
      const { runner, dispose } = this.pool.throwaway(args.cwd ?? undefined);
      try {
        await runner.ready;
        return await runner.execute({ ...args, blocking: true }, action.timeout, sink);
      } finally {
        dispose();
      }
    }
    return this.pool.get(args.session).execute(args, action.timeout, sink);
  }

  private finish(record: ActionRecord, observation: Observation): void {
    record.finish(observation);
    this.lastFinishedAt = Date.now();
    const exitCode = observation.observation === 'run' ? observation.extras.metadata.exit_code : undefined;
    this.log.info(
      { id: record.id, kind: record.kind, session: record.session, durationMs: Date.now() - record.startedAt, exitCode },
      'action',
    );
  }
}
