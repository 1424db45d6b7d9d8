// Observation schemas: what the server answers for an action. `extras` holds exactly the fields of
// OpenHands' class for the kind (OpenHands builds the class from them); what this server adds is
// in the top-level `meta`, which OpenHands ignores.
import * as z from 'zod';

/** What this server adds to an observation of a kind with no fields of its own in `meta` yet. */
export const ObservationMeta = z.looseObject({}).meta({
  id: 'ObservationMeta',
  description: "What this server adds beyond OpenHands' fields (which are in `extras`); OpenHands ignores it.",
});
export type ObservationMeta = z.infer<typeof ObservationMeta>;

/** `meta` of a `run` observation: what the suffix says in OpenHands' words, as fields. */
export const RunMeta = z
  .object({
    still_running: z
      .boolean()
      .describe(
        'The command this observation is about has not finished: a soft or hard timeout, input sent to it, or (with `refused`) the earlier command that kept this one from running. False once it completed.',
      ),
    refused: z.boolean().describe('The command text was not run, because an earlier command in the session is still running.'),
    full_output_path: z
      .string()
      .optional()
      .describe('Absolute path, in the sandbox, of the file holding the whole cleaned output, when `content` was truncated.'),
  })
  .meta({ id: 'RunMeta', description: "`meta` of a `run` observation: what `extras.metadata.suffix` says in OpenHands' words, as fields." });
export type RunMeta = z.infer<typeof RunMeta>;

/** `meta` of a `read` observation (absent for an image). */
export const ReadMeta = z
  .object({
    line_count: z.number().int().optional().describe('Lines in `content`.'),
    total_lines: z.number().int().optional().describe('Lines in the whole file.'),
  })
  .meta({ id: 'ReadMeta', description: '`meta` of a `read` observation of a text file.' });
export type ReadMeta = z.infer<typeof ReadMeta>;

export const RunMetadata = z
  .object({
    exit_code: z.number().int(),
    pid: z.number().int(),
    username: z.string().nullable(),
    hostname: z.string().nullable(),
    working_dir: z.string().nullable(),
    py_interpreter_path: z.string().nullable(),
    prefix: z.string(),
    suffix: z.string(),
  })
  .meta({ id: 'RunMetadata' });
export type RunMetadata = z.infer<typeof RunMetadata>;

export const RunObservation = z
  .object({
    observation: z.literal('run'),
    content: z.string(),
    extras: z.object({
      command: z.string(),
      hidden: z.boolean(),
      metadata: RunMetadata,
    }),
    success: z.boolean(),
    message: z.string().optional(),
    meta: RunMeta.optional(),
  })
  .meta({ id: 'RunObservation' });
export type RunObservation = z.infer<typeof RunObservation>;

export const ErrorObservation = z
  .object({
    observation: z.literal('error'),
    content: z.string(),
    extras: z.object({ error_id: z.string() }),
    success: z.literal(false),
    message: z.string().optional(),
    meta: ObservationMeta.optional(),
  })
  .meta({ id: 'ErrorObservation' });
export type ErrorObservation = z.infer<typeof ErrorObservation>;

export const ReadObservation = z
  .object({
    observation: z.literal('read'),
    /** The lines [start, end) with their line breaks, or a `data:image/...;base64,` URL for an image. */
    content: z.string(),
    extras: z.object({ path: z.string(), impl_source: z.string() }),
    success: z.boolean(),
    message: z.string().optional(),
    meta: ReadMeta.optional(),
  })
  .meta({ id: 'ReadObservation' });
export type ReadObservation = z.infer<typeof ReadObservation>;

export const WriteObservation = z
  .object({
    observation: z.literal('write'),
    content: z.string(),
    extras: z.object({ path: z.string() }),
    success: z.boolean(),
    message: z.string().optional(),
    meta: ObservationMeta.optional(),
  })
  .meta({ id: 'WriteObservation' });
export type WriteObservation = z.infer<typeof WriteObservation>;

export const EditObservation = z
  .object({
    observation: z.literal('edit'),
    /** What the str_replace_editor would print: a `cat -n` snippet or a message. */
    content: z.string(),
    extras: z.object({
      path: z.string(),
      prev_exist: z.boolean(),
      old_content: z.string().nullable(),
      new_content: z.string().nullable(),
      /** Unified diff from old_content to new_content ("" for view). */
      diff: z.string(),
      impl_source: z.string().optional(),
    }),
    success: z.boolean(),
    message: z.string().optional(),
    meta: ObservationMeta.optional(),
  })
  .meta({ id: 'EditObservation' });
export type EditObservation = z.infer<typeof EditObservation>;

/** `meta` of a `run_ipython` observation. */
export const IpythonMeta = z
  .object({
    still_running: z.boolean().describe('The cell has not finished: a soft or hard timeout, or (with `refused`) the earlier cell that kept this one from running.'),
    refused: z.boolean().describe('The code was not run, because an earlier cell in the session is still running.'),
    exception: z.string().nullable().describe("The class name of the exception the cell raised (its traceback is in `content`), or null."),
    python: z.string().nullable().describe('The interpreter the cell ran in (sys.executable).'),
    full_output_path: z
      .string()
      .optional()
      .describe('Absolute path, in the sandbox, of the file holding the whole cleaned output, when `content` was truncated.'),
  })
  .meta({ id: 'IpythonMeta', description: '`meta` of a `run_ipython` observation.' });
export type IpythonMeta = z.infer<typeof IpythonMeta>;

export const IpythonObservation = z
  .object({
    observation: z.literal('run_ipython'),
    /** What the cell printed and the value of its last expression; a traceback is content too. */
    content: z.string(),
    extras: z.object({
      code: z.string(),
      /** Figures the cell left open, as `data:image/png;base64,` URLs; null when there are none (as OpenHands sends). */
      image_urls: z.array(z.string()).nullable(),
    }),
    success: z.boolean(),
    message: z.string().optional(),
    meta: IpythonMeta.optional(),
  })
  .meta({ id: 'IpythonObservation' });
export type IpythonObservation = z.infer<typeof IpythonObservation>;

/** The kinds above: an observation of one of them must have its shape. */
export const OBSERVATION_KINDS = ['run', 'run_ipython', 'error', 'read', 'write', 'edit'] as const;

/** An observation of a kind a newer server may add: passed through loosely. */
export const OtherObservation = z
  .looseObject({
    observation: z.string().regex(new RegExp(`^(?!(?:${OBSERVATION_KINDS.join('|')})$)`), `must not be one of ${OBSERVATION_KINDS.join(', ')} (those have their own shapes)`),
    content: z.string(),
    extras: z.record(z.string(), z.unknown()),
    success: z.boolean(),
    meta: ObservationMeta.optional(),
  })
  .meta({ id: 'OtherObservation' });

/** Any observation: the answer of POST /execute_action and GET /actions/{id}, and of a WS `observation` frame. */
export const Observation = z
  .union([RunObservation, IpythonObservation, ErrorObservation, ReadObservation, WriteObservation, EditObservation, OtherObservation])
  .meta({ id: 'Observation' });
export type Observation = RunObservation | IpythonObservation | ErrorObservation | ReadObservation | WriteObservation | EditObservation;
