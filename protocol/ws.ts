// WebSocket frames on GET /ws.
import { z } from 'zod';
import { ActionEnvelope } from './actions.js';
import { Observation } from './observations.js';

export const ClientFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), key: z.string() }),
  z.object({ type: z.literal('execute'), id: z.string().min(1).max(200), action: ActionEnvelope }),
  z.object({ type: z.literal('attach'), id: z.string().min(1).max(200), from_seq: z.number().int().min(0).default(0) }),
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

export const ServerFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('output'), id: z.string(), seq: z.number().int(), data: z.string() }),
  z.object({ type: z.literal('observation'), id: z.string(), observation: Observation }),
  z.object({
    type: z.literal('error'),
    id: z.string().optional(),
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  }),
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
