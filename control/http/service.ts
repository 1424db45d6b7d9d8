// `runtime-client api` once its flags are good: the logger, the backend's driver, the lifecycle
// (reconciled with the backend), the server; SIGINT or SIGTERM closes them in the other order and
// leaves every runtime as it is (the next start finds them again).
import pino from 'pino';
import type { Driver } from '../driver.js';
import { DockerDriver } from '../docker/index.js';
import type { LifecycleOptions } from '../lifecycle/api.js';
import { openLifecycle } from '../lifecycle/lifecycle.js';
import { dockerBridgeRoute } from './docker-route.js';
import { ReapedCounter, lifecycleLogger } from './reaped.js';
import { startApiServer } from './server.js';
import { VERSION } from './version.js';

/** The lifecycle's options, and the service's own. */
export interface ApiServiceOptions extends LifecycleOptions {
  host: string;
  port: number;
  backend: 'docker';
  publicUrl: string | undefined;
  apiKey: string | undefined;
  maxBuildMb: number;
  logLevel: string;
  /** How runtime-client gets into sandboxes: `mount` (the bundle bound, no build) or `image` (each base image's injected image, built once on the engine). */
  inject: 'mount' | 'image';
}

const DRIVERS: Record<ApiServiceOptions['backend'], (options: ApiServiceOptions, log: pino.Logger) => Driver> = {
  docker: (options, log) =>
    new DockerDriver({
      inject: options.inject,
      onInjectedImage: (found) => {
        if (found.how === 'built') log.info({ baseImage: found.baseImage, image: found.image, durationMs: found.durationMs }, 'injected image built');
      },
    }),
};

/** Serves until SIGINT or SIGTERM; resolves with the exit code. ApiConfigError for a key-less public host. */
export async function runApiService(options: ApiServiceOptions): Promise<number> {
  const reaped = new ReapedCounter();
  const logOptions: pino.LoggerOptions = {
    base: { pid: process.pid },
    redact: { paths: ['apiKey', 'key', 'session_api_key', 'headers["x-api-key"]', 'headers["x-session-api-key"]'], censor: '[redacted]' },
  };
  const log = pino({ ...logOptions, level: options.logLevel });
  // Checked before anything is opened: a refusal leaves no state dir and no sandbox behind.
  const { ApiConfigError, isLoopback } = await import('./server.js');
  if (!options.apiKey && !isLoopback(options.host)) {
    throw new ApiConfigError(`refusing to listen on ${options.host} without an API key: anyone who reaches it could start sandboxes. Set RUNTIME_API_KEY or --api-key-file, or listen on 127.0.0.1`);
  }
  const driver = DRIVERS[options.backend](options, log);
  const lifecycle = await openLifecycle(
    driver,
    {
      defaultTtl: options.defaultTtl,
      maxTtl: options.maxTtl,
      idleTimeout: options.idleTimeout,
      pausedTtl: options.pausedTtl,
      maxRuntimes: options.maxRuntimes,
      baseCpus: options.baseCpus,
      baseMemoryMb: options.baseMemoryMb,
      maxCpus: options.maxCpus,
      maxMemoryMb: options.maxMemoryMb,
      warm: options.warm,
      stateDir: options.stateDir,
    },
    { logger: lifecycleLogger(options.logLevel, reaped, logOptions) },
  );
  let server;
  try {
    server = await startApiServer({
      lifecycle,
      driver,
      log,
      version: VERSION,
      host: options.host,
      port: options.port,
      publicUrl: options.publicUrl,
      apiKey: options.apiKey,
      maxBuildMb: options.maxBuildMb,
      reaped: () => reaped.total,
      route: driver instanceof DockerDriver ? dockerBridgeRoute(driver) : undefined,
    });
  } catch (e) {
    await lifecycle.close();
    await driver.close();
    throw e;
  }
  const signal = await new Promise<NodeJS.Signals>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  log.info({ signal }, 'runtime API stopping; runtimes are left as they are');
  await server.close();
  await lifecycle.close();
  await driver.close();
  return 0;
}
