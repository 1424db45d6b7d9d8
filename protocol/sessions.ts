// The session routes: GET /sessions, DELETE /sessions/{name}, POST /sessions/{name}/reset.
import { z } from 'zod';

/** One named bash session as the server reports it. */
export const SessionInfo = z.object({
  name: z.string(),
  /** The pty's process (the session's init); every process the session started is in its tree. */
  pid: z.number().int(),
  /** The shell's working directory after its last prompt. */
  cwd: z.string(),
  /** True while a command runs (returned on a timeout, or being waited on). */
  busy: z.boolean(),
  /** `starting`, `idle`, `running` or `dead` (between a shell's exit and its restart). */
  state: z.string(),
  /** Seconds since an action last started or finished in it. */
  idle_seconds: z.number(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;

/** GET /sessions. */
export const SessionList = z.object({ sessions: z.array(SessionInfo) });
export type SessionList = z.infer<typeof SessionList>;

/** DELETE /sessions/{name}: the session and every process it started are gone. */
export const SessionEnded = z.object({ name: z.string(), ended: z.literal(true) });
export type SessionEnded = z.infer<typeof SessionEnded>;
