// pino JSON logs on stdout; the API key is redacted wherever it might appear.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: { paths: ['apiKey', 'key', 'headers["x-session-api-key"]', 'req.headers["x-session-api-key"]'], censor: '[redacted]' },
  });
}
