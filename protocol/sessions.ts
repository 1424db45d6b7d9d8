// The session routes: GET /sessions, DELETE /sessions/{name}, POST /sessions/{name}/reset.
import * as z from 'zod';

/** One named bash session as the server reports it (GET /sessions, /server_info, the reset answer). */
export const SessionInfo = z
  .object({
    name: z.string(),
    pid: z.number().int().describe("The pty's process (the session's init); every process the session started is in its tree."),
    cwd: z.string().describe("The shell's working directory after its last prompt."),
    busy: z.boolean().describe('True while a command runs (returned on a timeout, or being waited on).'),
    state: z.string().describe("`starting`, `idle`, `running`, `dead` (between a shell's exit and its restart) or `ended`."),
    idle_seconds: z.number().describe('Seconds since an action last started or finished in it.'),
  })
  .meta({ id: 'SessionInfo' });
export type SessionInfo = z.infer<typeof SessionInfo>;

/** GET /sessions. */
export const SessionList = z.object({ sessions: z.array(SessionInfo) });
export type SessionList = z.infer<typeof SessionList>;

/** DELETE /sessions/{name}: the session and every process it started are gone. */
export const SessionEnded = z.object({ name: z.string(), ended: z.literal(true) });
export type SessionEnded = z.infer<typeof SessionEnded>;
