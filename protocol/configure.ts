// POST /configure: a server started with --await-config (a warm sandbox) is given its session once:
// a new key, the shells' environment, working directory and user. The same rules as the flags.
import * as z from 'zod';

/** A user name the server may create: what useradd takes by default (--username, `username`). */
export const USERNAME_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The largest uid the server creates a user with (--user-id, `user_id`): 2^31-2, as useradd allows. */
export const MAX_USER_ID = 2 ** 31 - 2;

/** Whether `n` is a uid the server creates a user with: an integer from 0 to MAX_USER_ID. */
export function isUserId(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_USER_ID;
}

/** A uid written in decimal digits, as `--user-id` takes it, or undefined when `text` is not one. */
export function parseUserId(text: string): number | undefined {
  return /^\d{1,10}$/.test(text) && isUserId(Number(text)) ? Number(text) : undefined;
}

/** An environment variable name: letters, digits and underscores, not starting with a digit. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

/** The new key: 32 to 512 visible ASCII characters (no spaces: it travels in a header). */
export const ConfigureKey = z
  .string()
  .regex(/^[\x21-\x7e]{32,512}$/, 'must be 32 to 512 visible ASCII characters (no spaces or control characters)');

/** POST /configure: the JSON body. Unknown fields are refused (a misspelt one would be lost). */
export const ConfigureRequest = z
  .strictObject({
    api_key: ConfigureKey.describe('The key every route requires from now on, in X-Session-API-Key; the start key is refused after.'),
    environment: z
      .record(
        z.string().regex(ENV_NAME_PATTERN, 'must be a variable name (A-Z a-z 0-9 _, not starting with a digit, at most 256 characters)'),
        z.string().refine((v) => !v.includes('\0'), 'must not contain a NUL character'),
      )
      .optional()
      .describe("Variables for the shells and IPython kernels, on top of the server's own; SESSION_API_KEY and the server's private variables are refused."),
    working_dir: z
      .string()
      .min(1)
      .max(4096)
      .refine((p) => p.startsWith('/') && !p.includes('\0'), 'must be an absolute path')
      .optional()
      .describe('Where the shells start (default: --working-dir, else the directory the server started in). Made and handed to the user when the server creates the user.'),
    username: z
      .string()
      .regex(USERNAME_PATTERN, 'must be a user name: a-z or _, then up to 31 of a-z 0-9 _ -')
      .optional()
      .describe('Run the shells as this user (the server must be root). With user_id, created when /etc/passwd lacks it.'),
    user_id: z
      .number()
      .int()
      .min(0)
      .max(MAX_USER_ID)
      .optional()
      .describe('The uid to create `username` with when it does not exist; needs `username`.'),
  })
  .meta({ id: 'ConfigureRequest' });
export type ConfigureRequest = z.infer<typeof ConfigureRequest>;

/** POST /configure, 200: the default session is ready, and the new key is the only one taken. */
export const ConfigureResult = z.object({ status: z.literal('ready') }).meta({ id: 'ConfigureResult' });
export type ConfigureResult = z.infer<typeof ConfigureResult>;
