// The docker CLI, as the one way builds reach the engine: it speaks both BuildKit and the legacy
// builder, and needs no registry.
import { execFile, spawn } from 'node:child_process';

/** The docker binary: $DOCKER, else `docker` on PATH. */
export const dockerBinary = (): string => process.env.DOCKER || 'docker';

export class DockerError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** Runs docker and returns its stdout; a non-zero exit throws with stderr in the message. */
export function docker(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(dockerBinary(), args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const code = typeof error.code === 'number' ? error.code : null;
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new DockerError(`the docker CLI (${dockerBinary()}) is not installed`, null, ''));
      }
      reject(new DockerError(`docker ${args[0]} failed: ${stderr.trim() || error.message}`, code, stderr));
    });
  });
}

/** Runs docker with its output shown line by line through `onLine`; resolves on exit 0. */
export function dockerStreaming(args: string[], onLine: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(dockerBinary(), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const feed = (chunk: Buffer) => {
      const text = tail + chunk.toString();
      const lines = text.split(/\r?\n/);
      tail = lines.pop()!;
      lines.forEach(onLine);
    };
    let last = '';
    child.stdout.on('data', feed);
    child.stderr.on('data', (chunk: Buffer) => {
      last = (last + chunk.toString()).slice(-4000);
      feed(chunk);
    });
    child.on('error', (e) => reject(new DockerError(`cannot run ${dockerBinary()}: ${e.message}`, null, '')));
    child.on('close', (code) => {
      if (tail) onLine(tail);
      if (code === 0) resolve();
      else reject(new DockerError(`docker ${args[0]} exited with ${code}: ${last.trim().split('\n').slice(-5).join('\n')}`, code, last));
    });
  });
}

/** `docker image inspect` as data, or null when there is no such image. */
export async function inspectImage(ref: string): Promise<{ Id: string; Config: { Labels: Record<string, string> | null } } | null> {
  try {
    return JSON.parse(await docker(['image', 'inspect', ref]))[0];
  } catch (e) {
    if (e instanceof DockerError && /No such image/i.test(e.stderr)) return null;
    throw e;
  }
}

/** True when this docker CLI can use BuildKit (the buildx plugin, or a client that has it built in). */
export async function hasBuildKit(): Promise<boolean> {
  try {
    await docker(['buildx', 'version']);
    return true;
  } catch {
    return false;
  }
}
