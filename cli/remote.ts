// `runtime-client run | ps | stop --api URL`: the same commands against a runtime API service
// (`runtime-client api`) through the client's remote backend, instead of the local Docker engine.
import { readFileSync } from 'node:fs';
import { RemoteBackend, RuntimeError, type RemoteRuntimeInfo } from '@runtime-client/client';
import { Attachment, parseEnv, printProgress } from './attach.js';
import { UsageError } from './errors.js';
import { withFlags } from './flags.js';

const API_FLAGS = `  --api URL            the runtime API's base URL, e.g. http://127.0.0.1:8000 (required)
  --api-key-file F     a file holding the API key, sent as X-API-Key (default: env
                       RUNTIME_API_KEY, else no key)
`;

const RUN_USAGE = `Usage: runtime-client run --api URL [--api-key-file F] [--session-id ID] [-e KEY=VALUE]... [--ttl SECONDS] [--idle-timeout SECONDS] [--cpus N] [--memory-mb N] [-d] IMAGE

Asks the runtime API at URL for a runtime of IMAGE (an image its engine has), prints its session
id, runtime id, URL (the service's proxy) and key on stdout (progress goes to stderr), and stays
attached. Ctrl-C (SIGINT) or SIGTERM stops it (the service removes it); so does the service
stopping it (expired, reaped: exit status 1 then). A session id that has a runtime gets it back.
${API_FLAGS}  --session-id ID      the runtime's session: 1-128 of A-Z a-z 0-9 _ . -
                       (default: 12 random hex digits)
  -e, --env KEY=VALUE  environment for the runtime's shells, repeatable (default: none)
  --ttl SECONDS        stopped and removed after this long (default: the service's
                       --default-ttl)
  --idle-timeout SECONDS
                       paused after this long without a request through its URL
                       (default: the service's --idle-timeout)
  --cpus N             CPU limit, fractional allowed (default: the service's --base-cpus)
  --memory-mb N        memory limit in MiB (default: the service's --base-memory-mb)
  -d, --detach         print and exit 0, leaving the runtime to its TTL or
                       \`runtime-client stop --api\` (default: stay attached)
  -h, --help           this help
`;

const PS_USAGE = `Usage: runtime-client ps --api URL [--api-key-file F] [--status running|paused|stopped] [--json | -q]

Lists the runtimes of the runtime API at URL, newest first: runtime id (\`runtime-client stop
--api\` takes it, or the session id), session id, image, status, pod status, expiry (UTC) and URL.
${API_FLAGS}  --status S           only runtimes with status S: running, paused or stopped
                       (default: all)
  --json               the list as JSON, one object per runtime (default: a table)
  -q, --quiet          runtime ids only, one a line (default: a table)
  -h, --help           this help
`;

const STOP_USAGE = `Usage: runtime-client stop --api URL [--api-key-file F] RUNTIME...

Asks the runtime API at URL to stop each runtime; the service removes it. RUNTIME is a runtime id
(rt-…, as \`runtime-client ps --api\` prints it) or a session id. Stopping a stopped runtime is
not an error. Prints each one stopped; exits 1 if any could not be.
${API_FLAGS}  -h, --help           this help
`;

const api = { api: { type: 'string' }, 'api-key-file': { type: 'string' } } as const;

/** True when a run, ps or stop command line asks for a runtime API (`--api URL` before any `--`). */
export function wantsApi(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((arg) => arg === '--api' || arg.startsWith('--api='));
}

/** Runs `run`, `ps` or `stop` against the runtime API; resolves with the exit code. */
export function runRemoteCommand(name: 'run' | 'ps' | 'stop', argv: string[]): Promise<number> {
  switch (name) {
    case 'run': {
      const options = {
        ...api,
        'session-id': { type: 'string' },
        env: { type: 'string', short: 'e', multiple: true },
        ttl: { type: 'string' },
        'idle-timeout': { type: 'string' },
        cpus: { type: 'string' },
        'memory-mb': { type: 'string' },
        detach: { type: 'boolean', short: 'd' },
      } as const;
      return withFlags({ name, usage: RUN_USAGE, options, allowPositionals: true }, argv, async ({ values, positionals }) => {
        if (positionals.length !== 1) throw new UsageError(positionals.length ? `run --api takes one IMAGE, got ${positionals.length}: ${positionals.join(' ')}` : 'run --api needs an IMAGE');
        const backend = backendOf(values);
        const start = {
          image: positionals[0]!,
          sessionId: values['session-id'],
          env: parseEnv(values.env ?? []),
          ttlSeconds: numberOf(values.ttl, '--ttl', true),
          idleTimeoutSeconds: numberOf(values['idle-timeout'], '--idle-timeout', true),
          cpus: numberOf(values.cpus, '--cpus', false),
          memoryMb: numberOf(values['memory-mb'], '--memory-mb', true),
        };
        try {
          return await attached(backend, start, values.detach ?? false);
        } finally {
          backend.close();
        }
      });
    }
    case 'ps':
      return withFlags({ name, usage: PS_USAGE, options: { ...api, status: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' } } }, argv, async ({ values }) => {
        const status = values.status;
        if (status !== undefined && status !== 'running' && status !== 'paused' && status !== 'stopped') throw new UsageError(`--status must be running, paused or stopped, got ${JSON.stringify(status)}`);
        const backend = backendOf(values);
        try {
          const runtimes = await backend.list(status);
          if (values.json) process.stdout.write(JSON.stringify(runtimes, null, 2) + '\n');
          else if (values.quiet) process.stdout.write(runtimes.map((r) => r.id + '\n').join(''));
          else process.stdout.write(formatRemoteTable(runtimes));
          return 0;
        } finally {
          backend.close();
        }
      });
    case 'stop':
      return withFlags({ name, usage: STOP_USAGE, options: { ...api, keep: { type: 'boolean' } }, allowPositionals: true }, argv, async ({ values, positionals }) => {
        if (values.keep) throw new UsageError('--keep cannot be used with --api: the service removes every runtime it stops');
        if (positionals.length === 0) throw new UsageError('stop --api needs at least one runtime id or session id (see runtime-client ps --api URL)');
        const backend = backendOf(values);
        let failed = 0;
        try {
          for (const ref of positionals) {
            try {
              await backend.stop(ref);
              process.stdout.write(ref + '\n');
            } catch (e) {
              if (!(e instanceof RuntimeError)) throw e;
              failed++;
              process.stderr.write(`runtime-client: cannot stop ${ref}: ${e.message}\n`);
            }
          }
        } finally {
          backend.close();
        }
        return failed ? 1 : 0;
      });
  }
}

interface RunStart {
  image: string;
  sessionId?: string;
  env: Record<string, string>;
  ttlSeconds?: number;
  idleTimeoutSeconds?: number;
  cpus?: number;
  memoryMb?: number;
}

async function attached(backend: RemoteBackend, start: RunStart, detach: boolean): Promise<number> {
  const attachment = new Attachment('the service', 'stopped');
  const runtime = await attachment.start(() => backend.start({ ...start, onProgress: printProgress }));
  process.stdout.write(`session    ${runtime.sessionId}\nruntime    ${runtime.id}\nurl        ${runtime.url}\nkey        ${runtime.apiKey}\n`);
  if (detach && !attachment.signal) {
    await runtime.client.close();
    process.stderr.write(`detached: ${runtime.id} runs until ${runtime.info.expiresAt}; stop it with: runtime-client stop --api ${backend.url} ${runtime.id}\n`);
    return 0;
  }
  process.stderr.write(
    `attached: Ctrl-C stops ${runtime.id}. Try:\n` + `  runtime-client exec --url ${runtime.url} --key ${runtime.apiKey} -- 'echo hi'\n`,
  );

  const gone = await attachment.until(() =>
    backend.info(runtime.id).then(
      (info) =>
        info.state !== 'stopped' ? null : `the service stopped ${runtime.id} (pod ${info.podStatus}${info.restartReasons.length ? `: ${info.restartReasons.at(-1)}` : ''})`,
      (e: unknown) => {
        if (e instanceof RuntimeError && e.code === 'not_found') return `the service no longer knows ${runtime.id}`;
        throw e; // the service hiccuped; ask again next time
      },
    ),
  );
  if (gone) {
    process.stderr.write(`runtime-client: ${gone}\n`);
    await runtime.client.close();
    return 1;
  }
  process.stderr.write(`${attachment.signal}: stopping ${runtime.id}\n`);
  await runtime.stop();
  return 0;
}

/** The backend for --api and --api-key-file (else env RUNTIME_API_KEY); bad values are usage errors. */
function backendOf(values: { api?: string; 'api-key-file'?: string }): RemoteBackend {
  if (!values.api) throw new UsageError('--api needs the runtime API\'s URL');
  let apiKey: string | undefined;
  const file = values['api-key-file'];
  if (file !== undefined) {
    try {
      apiKey = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new UsageError(`--api-key-file: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!apiKey) throw new UsageError(`--api-key-file: ${file} is empty`);
  }
  try {
    return new RemoteBackend({ url: values.api, apiKey });
  } catch (e) {
    if (e instanceof TypeError) throw new UsageError(`--api must be an http: or https: URL, got ${JSON.stringify(values.api)}`);
    throw e;
  }
}

/** A flag's number, or undefined when absent; `integer` for whole seconds and MiB. */
function numberOf(raw: string | undefined, flag: string, integer: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const value = /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  if (!(value > 0) || (integer && !Number.isInteger(value))) throw new UsageError(`${flag} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`);
  return value;
}

/** One row per runtime under a header; columns padded to their widest cell. */
export function formatRemoteTable(runtimes: RemoteRuntimeInfo[]): string {
  const rows = [
    ['RUNTIME', 'SESSION', 'IMAGE', 'STATUS', 'POD', 'EXPIRES', 'URL'],
    ...runtimes.map((r) => [r.id, r.sessionId, r.image ?? '-', r.state, r.podStatus, r.expiresAt, r.url ?? '-']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ') + '\n').join('');
}
