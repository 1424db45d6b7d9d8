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

/** One API call; resolves with the parsed JSON body (or null), rejects on a status >= 400. */
export function engine(method: string, path: string, body?: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { socketPath: engineSocket(), method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          const parsed = text ? safeJson(text) : null;
          if ((res.statusCode ?? 500) >= 400) {
            reject(new Error(`docker engine ${method} ${path}: ${res.statusCode} ${(parsed as { message?: string })?.message ?? text}`));
          } else resolve(parsed);
        });
      },
    );
    req.on('error', (e) => reject(new Error(`cannot reach the docker engine at ${engineSocket()}: ${e.message}`)));
    req.end(payload);
  });
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
