// Action schemas: what clients send to POST /execute_action and in WS `execute` frames.
import * as z from 'zod';

/** Keys OpenHands clients put inside `args` that carry no meaning here; accepted and ignored. */
const tolerated = {
  thought: z.unknown().optional(),
  confirmation_state: z.unknown().optional(),
  security_risk: z.unknown().optional(),
  hidden: z.unknown().optional(),
};
/** The names of those keys: two actions that differ only in them are the same action. */
export const IGNORED_ARGS: ReadonlySet<string> = new Set(Object.keys(tolerated));

/** What a session name may be: it names a directory in the sandbox, so no `.`, `..` or slash. */
export const SESSION_NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;

/** A session name: also used in file names inside the sandbox, so kept to a safe alphabet. */
export const SessionName = z
  .string()
  .regex(SESSION_NAME_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ . -, not starting with a dot');

/**
 * Text that reaches the shell or the file system, where a NUL byte would end it early (bash drops
 * the rest of a command line after one; a path with one cannot exist).
 */
const NoNul = z.string().refine((s) => !s.includes('\0'), 'must not contain a NUL byte (\\0)');

/** The longest hard timeout in seconds: Node's timers hold at most 2^31-1 ms, past that they fire at once. */
export const MAX_TIMEOUT_SECONDS = 2_147_483;

export const RunArgs = z.strictObject({
  ...tolerated,
  command: NoNul,
  is_input: z.boolean().default(false),
  blocking: z.boolean().default(false),
  session: SessionName.default('default'),
  cwd: z.string().nullable().optional(),
  is_static: z.boolean().default(false),
});
export type RunArgs = z.infer<typeof RunArgs>;

export const ReadArgs = z.strictObject({
  ...tolerated,
  path: NoNul,
  start: z.number().int().default(0),
  end: z.number().int().default(-1),
  session: SessionName.default('default'),
  /** `oh_aci`: answer like the editor's `view` (numbered lines, `view_range`), as OpenHands' own server did. */
  impl_source: z.enum(['default', 'oh_aci']).default('default'),
  /** With `impl_source: "oh_aci"`: the 1-based lines [first, last] to view (last -1: to the end); another length gets the editor's sentence. */
  view_range: z.array(z.number().int()).nullable().optional(),
});
export type ReadArgs = z.infer<typeof ReadArgs>;

export const WriteArgs = z.strictObject({
  ...tolerated,
  path: NoNul,
  content: z.string(),
  start: z.number().int().default(0),
  end: z.number().int().default(-1),
  session: SessionName.default('default'),
});
export type WriteArgs = z.infer<typeof WriteArgs>;

/** The editor's commands. */
export const EDIT_COMMANDS = ['view', 'create', 'str_replace', 'insert', 'undo_edit'] as const;

export const EditArgs = z.strictObject({
  ...tolerated,
  path: NoNul,
  /** One of EDIT_COMMANDS; another gets the editor's own sentence in an error observation (as OpenHands' server answered), not a 400. */
  command: z.string().describe(`One of ${EDIT_COMMANDS.join(', ')}; another is answered with an error observation.`),
  file_text: z.string().nullable().optional(),
  old_str: z.string().nullable().optional(),
  new_str: z.string().nullable().optional(),
  /** A number, or its decimal text (OpenHands' server converted it); other text gets the editor's sentence. */
  insert_line: z.union([z.number().int(), z.string()]).nullable().optional(),
  /** [first, last], 1-based (last -1: to the end); another length gets the editor's sentence. */
  view_range: z.array(z.number().int()).nullable().optional(),
  session: SessionName.default('default'),
  impl_source: z.unknown().optional(),
  // OpenHands' FileEditAction always sends these (for its LLM-based edits, which its client does
  // itself); they carry no meaning for the editor commands.
  content: z.unknown().optional(),
  start: z.unknown().optional(),
  end: z.unknown().optional(),
});
export type EditArgs = z.infer<typeof EditArgs>;

export const RunIpythonArgs = z.strictObject({
  ...tolerated,
  /** The cell: Python (IPython syntax when the image's Python has IPython). While a cell runs: "" for more output, "C-c" to interrupt it. */
  code: z.string(),
  /** Append the bash cwd and the interpreter's path to `content`, as OpenHands' Jupyter plugin did. */
  include_extra: z.boolean().default(true),
  /** Run once in each fresh interpreter before its first cell (OpenHands sends "" or its agent-skills import). */
  kernel_init_code: z.string().default(''),
  /** Wait for the cell to finish, with no soft timeout (as for `run`). */
  blocking: z.boolean().default(false),
  session: SessionName.default('default'),
  confirmation_state: z.unknown().optional(),
});
export type RunIpythonArgs = z.infer<typeof RunIpythonArgs>;

/** The action kinds this server runs. */
export const ActionKind = z.enum(['run', 'run_ipython', 'read', 'write', 'edit']).meta({ id: 'ActionKind' });
export type ActionKind = z.infer<typeof ActionKind>;
export const ACTION_KINDS: readonly ActionKind[] = ActionKind.options;
/** Args schema per action kind. */
export const ArgsByKind = { run: RunArgs, run_ipython: RunIpythonArgs, read: ReadArgs, write: WriteArgs, edit: EditArgs } as const satisfies Record<ActionKind, z.ZodType>;

/**
 * Kinds of OpenHands' actions this server does not run (a browser, the agent's own bookkeeping).
 * One of them gets an `error` observation that names it, with HTTP 200, as OpenHands' own server
 * answered; any other unknown kind is a malformed request (400).
 */
export const UNSUPPORTED_OPENHANDS_KINDS: ReadonlySet<string> = new Set([
  'browse', 'browse_interactive', 'mcp', 'message', 'system', 'think', 'finish', 'reject', 'delegate',
  'recall', 'change_agent_state', 'condensation', 'condensation_request', 'task_tracking', 'loop_recovery', 'null',
]);

/** Hard timeout in seconds. */
const Timeout = z
  .number()
  .positive()
  .max(MAX_TIMEOUT_SECONDS, `must be at most ${MAX_TIMEOUT_SECONDS} seconds (about 24.8 days)`)
  .nullable()
  .optional();

/** The action envelope; `args` is checked against its kind's schema in a second step (see AnyAction). */
export const ActionEnvelope = z.looseObject({
  action: z.string(),
  args: z.record(z.string(), z.unknown()).default({}),
  timeout: Timeout,
});

/** An action of each kind with its args checked: what the server's two steps accept together. */
export const RunAction = ActionEnvelope.extend({ action: z.literal('run'), args: RunArgs }).meta({ id: 'RunAction' });
export const ReadAction = ActionEnvelope.extend({ action: z.literal('read'), args: ReadArgs }).meta({ id: 'ReadAction' });
export const WriteAction = ActionEnvelope.extend({ action: z.literal('write'), args: WriteArgs }).meta({ id: 'WriteAction' });
export const EditAction = ActionEnvelope.extend({ action: z.literal('edit'), args: EditArgs }).meta({ id: 'EditAction' });
export const RunIpythonAction = ActionEnvelope.extend({ action: z.literal('run_ipython'), args: RunIpythonArgs }).meta({ id: 'RunIpythonAction' });
/** Any action this server runs, args included. */
export const AnyAction = z.discriminatedUnion('action', [RunAction, RunIpythonAction, ReadAction, WriteAction, EditAction]).meta({ id: 'Action' });

/** A client-chosen action id (also the `X-Request-ID` header); repeating one replays its result. */
export const ActionId = z.string().min(1).max(200);

/** POST /execute_action. */
export const ExecuteRequest = z.looseObject({
  action: ActionEnvelope,
  id: ActionId.optional(),
});
export type ExecuteRequest = z.infer<typeof ExecuteRequest>;

/** An action as the server runs it, after both steps of checking. */
export type Action =
  | { kind: 'run'; args: RunArgs; timeout?: number }
  | { kind: 'run_ipython'; args: RunIpythonArgs; timeout?: number }
  | { kind: 'read'; args: ReadArgs; timeout?: number }
  | { kind: 'write'; args: WriteArgs; timeout?: number }
  | { kind: 'edit'; args: EditArgs; timeout?: number }
  /** One of UNSUPPORTED_OPENHANDS_KINDS: answered with an error observation naming `name`. */
  | { kind: 'unsupported'; name: string; args: Record<string, unknown>; timeout?: number };

/** What a client builds: an action of a kind this server runs; the server checks its args. */
export const ActionInput = z.object({ action: ActionKind, args: z.record(z.string(), z.unknown()), timeout: Timeout });
export type ActionInput = z.infer<typeof ActionInput>;
