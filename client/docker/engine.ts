// A few Docker Engine API calls over its unix socket, for what the CLI cannot say: an exec-form
// health check on `docker run` (the CLI's --health-cmd always goes through /bin/sh).
import { request } from 'node:http';

/** The engine's socket: from DOCKER_HOST=unix://..., else /var/run/docker.sock. */
export function engineSocket(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (host?.startsWith('unix://')) return host.slice('unix://'.length);
  if (host) throw new Error(`DOCKER_HOST=${host} is not a unix socket; only local engines are supported`);
  return '/var/run/docker.sock';
}

/** A failed Engine API call; `status` is the engine's HTTP status (undefined when unreachable). */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** One API call; resolves with the raw body, rejects with EngineError on a status >= 400. */
export function engineRaw(method: string, path: string, body?: unknown): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { socketPath: engineSocket(), method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (e) => reject(new EngineError(`docker engine ${method} ${path}: ${e.message}`)));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const status = res.statusCode ?? 500;
          if (status < 400) return resolve(raw);
          const text = raw.toString('utf8');
          const message = (safeJson(text) as { message?: string } | null)?.message ?? text;
          reject(new EngineError(`docker engine ${method} ${path}: ${status} ${message}`, status));
        });
      },
    );
    req.on('error', (e) => reject(new EngineError(`cannot reach the docker engine at ${engineSocket()}: ${e.message}`)));
    req.end(payload);
  });
}

/** One API call; resolves with the parsed JSON body (or null), rejects with EngineError on a status >= 400. */
export async function engine(method: string, path: string, body?: unknown): Promise<any> {
  const text = (await engineRaw(method, path, body)).toString('utf8');
  return text ? safeJson(text) : null;
}

/** Creates and starts a container; returns its id. */
export async function runContainer(body: Record<string, unknown>, name?: string): Promise<string> {
  const created = await engine('POST', `/containers/create${name ? `?name=${encodeURIComponent(name)}` : ''}`, body);
  await engine('POST', `/containers/${created.Id}/start`);
  return created.Id;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
