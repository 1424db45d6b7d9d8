// GET /alive (no key needed) and GET /server_info.
import * as z from 'zod';
import { SessionInfo } from './sessions.js';

/** GET /alive, 200: the default session is ready. */
export const AliveReady = z.object({ status: z.literal('ok'), version: z.string() }).meta({ id: 'AliveReady' });
export type AliveReady = z.infer<typeof AliveReady>;

/** GET /alive, 503: the default session is still starting. */
export const AliveStarting = z.object({ status: z.literal('not initialized') }).meta({ id: 'AliveStarting' });
export type AliveStarting = z.infer<typeof AliveStarting>;

/** GET /alive: 200 AliveReady or 503 AliveStarting. */
export const Alive = z.discriminatedUnion('status', [AliveReady, AliveStarting]);
export type Alive = z.infer<typeof Alive>;

/** What the server process uses. */
export const Resources = z
  .object({
    cpu: z.object({ user_seconds: z.number(), system_seconds: z.number() }).describe('CPU time of the server process (not its sessions), in seconds.'),
    memory: z.object({ rss_bytes: z.number().int() }),
    disk: z.object({ total_bytes: z.number().int(), free_bytes: z.number().int() }).nullable().describe('The file system of the working directory; null when it cannot be read.'),
  })
  .meta({ id: 'Resources' });
export type Resources = z.infer<typeof Resources>;

/** GET /server_info. */
export const ServerInfo = z.object({
  version: z.string(),
  uptime: z.number().describe('Seconds since the server started.'),
  idle_time: z.number().describe('Seconds since the last action finished.'),
  sessions: z.array(SessionInfo),
  resources: Resources,
});
export type ServerInfo = z.infer<typeof ServerInfo>;
