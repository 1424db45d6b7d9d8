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

/** Any observation; file kinds arrive with the files issue and are passed through loosely. */
export const Observation = z.union([
  RunObservation,
  ErrorObservation,
  z.looseObject({ observation: z.string(), content: z.string(), extras: z.record(z.string(), z.unknown()), success: z.boolean() }),
]);
export type Observation = RunObservation | ErrorObservation;
