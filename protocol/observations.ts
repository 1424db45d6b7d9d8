// Observation schemas: what the server answers for an action.
import { z } from 'zod';

export const RunMetadata = z.object({
  exit_code: z.number().int(),
  pid: z.number().int(),
  username: z.string().nullable(),
  hostname: z.string().nullable(),
  working_dir: z.string().nullable(),
  py_interpreter_path: z.string().nullable(),
  prefix: z.string(),
  suffix: z.string(),
});
export type RunMetadata = z.infer<typeof RunMetadata>;

export const RunObservation = z.object({
  observation: z.literal('run'),
  content: z.string(),
  extras: z.object({
    command: z.string(),
    hidden: z.boolean(),
    metadata: RunMetadata,
    /** Absolute path of the file holding the whole output when `content` was truncated. */
    full_output_path: z.string().optional(),
  }),
  success: z.boolean(),
  message: z.string().optional(),
});
export type RunObservation = z.infer<typeof RunObservation>;

export const ErrorObservation = z.object({
  observation: z.literal('error'),
  content: z.string(),
  extras: z.object({ error_id: z.string() }),
  success: z.literal(false),
  message: z.string().optional(),
});
export type ErrorObservation = z.infer<typeof ErrorObservation>;

export const ReadObservation = z.object({
  observation: z.literal('read'),
  /** The lines [start, end) with their line breaks, or a `data:image/...;base64,` URL for an image. */
  content: z.string(),
  extras: z.object({
    path: z.string(),
    impl_source: z.string(),
    /** Lines in `content` (absent for an image). */
    line_count: z.number().int().optional(),
    /** Lines in the whole file (absent for an image). */
    total_lines: z.number().int().optional(),
  }),
  success: z.boolean(),
  message: z.string().optional(),
});
export type ReadObservation = z.infer<typeof ReadObservation>;

export const WriteObservation = z.object({
  observation: z.literal('write'),
  content: z.string(),
  extras: z.object({ path: z.string() }),
  success: z.boolean(),
  message: z.string().optional(),
});
export type WriteObservation = z.infer<typeof WriteObservation>;

export const EditObservation = z.object({
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
});
export type EditObservation = z.infer<typeof EditObservation>;

/** Any observation; kinds a newer server may add are passed through loosely. */
export const Observation = z.union([
  RunObservation,
  ErrorObservation,
  ReadObservation,
  WriteObservation,
  EditObservation,
  z.looseObject({ observation: z.string(), content: z.string(), extras: z.record(z.string(), z.unknown()), success: z.boolean() }),
]);
export type Observation = RunObservation | ErrorObservation | ReadObservation | WriteObservation | EditObservation;
