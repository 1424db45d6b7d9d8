// WebSocket frames on GET /ws. Close codes are WS_CLOSE in errors.ts.
import * as z from 'zod';
import { ActionEnvelope, ActionId } from './actions.js';
import { OUTPUT_GAP, WireError } from './errors.js';
import { Observation } from './observations.js';

/** The key, for a client that cannot send the X-Session-API-Key header; within 5 s of the upgrade. */
export const AuthFrame = z.object({ type: z.literal('auth'), key: z.string() }).meta({ id: 'AuthFrame' });
/** Runs an action (or, for an id already known, follows it) and streams its output. */
export const ExecuteFrame = z.object({ type: z.literal('execute'), id: ActionId, action: ActionEnvelope }).meta({ id: 'ExecuteFrame' });
/** Follows an action already known by id, from chunk `from_seq` on (after a reconnect). */
export const AttachFrame = z
  .object({ type: z.literal('attach'), id: ActionId, from_seq: z.number().int().min(0).default(0) })
  .meta({ id: 'AttachFrame' });

export const ClientFrame = z.discriminatedUnion('type', [AuthFrame, ExecuteFrame, AttachFrame]).meta({ id: 'ClientFrame' });
export type ClientFrame = z.infer<typeof ClientFrame>;

/** A raw output chunk of action `id`; seq counts from 0 without gaps. */
export const OutputFrame = z
  .object({ type: z.literal('output'), id: z.string(), seq: z.number().int().min(0), data: z.string() })
  .meta({ id: 'OutputFrame' });
/** The one observation of action `id`, after its last output chunk. */
export const ObservationFrame = z.object({ type: z.literal('observation'), id: z.string(), observation: Observation }).meta({ id: 'ObservationFrame' });

/** Which chunks a socket missed: `from_seq`..`first_seq - 1`. */
export const OutputGap = z
  .object({
    from_seq: z.number().int().min(0).describe('The first chunk the socket asked for (or was due) that is gone.'),
    first_seq: z.number().int().min(0).describe('The first chunk the server still holds: the stream continues here.'),
  })
  .meta({ id: 'OutputGap' });
export type OutputGap = z.infer<typeof OutputGap>;

/** The `output_gap` notice: chunks dropped from the server's window before this socket got them. */
export const OutputGapError = z
  .object({ code: z.literal(OUTPUT_GAP), message: z.string(), details: OutputGap })
  .meta({ id: 'OutputGapError' });

/** A frame refused (`id` when the frame had one), or an action's `output_gap` notice. */
export const ErrorFrame = z
  .object({ type: z.literal('error'), id: z.string().optional(), error: z.union([WireError, OutputGapError]) })
  .meta({ id: 'ErrorFrame' });

/** An ErrorFrame that is an `output_gap` notice; the action's stream goes on after it. */
export const OutputGapFrame = ErrorFrame.extend({ id: z.string(), error: OutputGapError });
export type OutputGapFrame = z.infer<typeof OutputGapFrame>;

export const ServerFrame = z.discriminatedUnion('type', [OutputFrame, ObservationFrame, ErrorFrame]).meta({ id: 'ServerFrame' });
export type ServerFrame = z.infer<typeof ServerFrame>;
