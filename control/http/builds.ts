// POST /build and GET /build_status (OpenHands' RemoteRuntimeBuilder): a multipart upload of a
// base64 tar.gz context, built on the backend's engine through Driver.build, tracked in memory
// by build id. At most MAX_CONCURRENT_BUILDS run at once; the rest wait as PENDING.
import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import busboy from 'busboy';
import type { Driver } from '../driver.js';
import { drain } from './body.js';
import { ControlApiError } from './errors.js';
import type { Logger } from 'pino';

export type BuildState = 'PENDING' | 'RUNNING' | 'SUCCESS' | 'FAILURE' | 'TIMEOUT' | 'CANCELLED';

interface Build {
  id: string;
  status: BuildState;
  tags: string[];
  image?: string;
  error?: string;
  finishedAt?: number;
  /** Called when it finishes (POST /build waiting a little for it). */
  waiters?: (() => void)[];
  run: () => Promise<void>;
}

/** Builds running at once on the engine. */
export const MAX_CONCURRENT_BUILDS = 2;
/** A finished build's status is kept this long, in ms. */
const KEEP_FINISHED_MS = 24 * 3600_000;
/** A build that has not finished after this long is cancelled and reported TIMEOUT, in ms. */
export const BUILD_TIMEOUT_MS = 30 * 60_000;
/** How long POST /build waits for its build to finish before answering (OpenHands' request times out at 30 s). */
export const BUILD_ANSWER_WAIT_MS = 20_000;
/** An image reference as Docker takes it: [registry[:port]/]name[:tag][@digest], lower-case name. */
const IMAGE_REF = /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?$/;

export class Builds {
  private readonly builds = new Map<string, Build>();
  private readonly aborts = new Set<AbortController>();
  private running = 0;
  private readonly queue: Build[] = [];

  constructor(
    private readonly driver: Driver,
    private readonly log: Logger,
  ) {}

  /** Starts building `context` (a tar.gz) as `tags` (the first is the image reported); its build id. */
  submit(context: Buffer, tags: string[]): string {
    const id = 'b-' + randomBytes(12).toString('hex');
    const build: Build = {
      id,
      status: 'PENDING',
      tags,
      run: async () => {
        build.status = 'RUNNING';
        const abort = new AbortController();
        this.aborts.add(abort);
        const timer = setTimeout(() => abort.abort(new Error('timeout')), BUILD_TIMEOUT_MS);
        try {
          build.image = await this.driver.build(context, tags, abort.signal);
          build.status = 'SUCCESS';
          this.log.info({ buildId: id, image: build.image }, 'build succeeded');
        } catch (e) {
          build.status = abort.signal.aborted ? ((abort.signal.reason as Error)?.message === 'timeout' ? 'TIMEOUT' : 'CANCELLED') : 'FAILURE';
          build.error = (e as Error).message;
          this.log.info({ buildId: id, status: build.status, error: build.error }, 'build failed');
        } finally {
          clearTimeout(timer);
          this.aborts.delete(abort);
          build.finishedAt = Date.now();
          for (const wake of build.waiters?.splice(0) ?? []) wake();
        }
      },
    };
    this.prune();
    this.builds.set(id, build);
    this.queue.push(build);
    this.pump();
    return id;
  }

  /** Resolves when the build has finished, or after `ms`, whichever comes first. */
  settled(id: string, ms: number): Promise<void> {
    const build = this.builds.get(id);
    if (!build || build.finishedAt !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      (build.waiters ??= []).push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  status(id: string): { status: BuildState; image?: string; error?: string } | undefined {
    const build = this.builds.get(id);
    if (!build) return undefined;
    return { status: build.status, ...(build.image ? { image: build.image } : {}), ...(build.error ? { error: build.error } : {}) };
  }

  /** Cancels every build in progress (the service is closing). */
  close(): void {
    for (const b of this.queue.splice(0)) {
      b.status = 'CANCELLED';
      b.finishedAt = Date.now();
    }
    for (const abort of this.aborts) abort.abort(new Error('the service is closing'));
  }

  private pump(): void {
    while (this.running < MAX_CONCURRENT_BUILDS && this.queue.length) {
      const build = this.queue.shift()!;
      this.running++;
      build.run().finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private prune(): void {
    const before = Date.now() - KEEP_FINISHED_MS;
    for (const [id, b] of this.builds) if (b.finishedAt !== undefined && b.finishedAt < before) this.builds.delete(id);
  }
}

/**
 * Reads the multipart body of POST /build: `context` (base64 of a tar.gz, as a file part or a
 * field), `target_image`, repeated `tags`. Over `maxBytes` of body: 413; a missing or malformed part: 400.
 */
export function readBuildForm(req: Request, maxBytes: number, timeoutMs: number): Promise<{ context: Buffer; tags: string[] }> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const limitMb = +(maxBytes / 2 ** 20).toFixed(2);
    const tooLarge = new ControlApiError('payload_too_large', `the build upload is larger than ${limitMb} MiB (--max-build-mb)`);
    let failed = false;
    let timer: NodeJS.Timeout | undefined;
    if (Number(req.headers['content-length']) > maxBytes) return fail(tooLarge);
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fieldSize: maxBytes, fileSize: maxBytes, files: 1, fields: 64 } });
    } catch (e) {
      return fail(new ControlApiError('bad_request', `POST /build takes multipart/form-data (context, target_image, tags): ${(e as Error).message}`));
    }
    const context: Buffer[] = [];
    let contextSeen = false;
    let targetImage: string | undefined;
    const tags: string[] = [];
    timer = setTimeout(() => fail(new ControlApiError('request_timeout', `the build upload did not arrive within ${timeoutMs / 1000} s`), true), timeoutMs);

    bb.on('file', (name, stream) => {
      if (name !== 'context') return void stream.resume();
      contextSeen = true;
      stream.on('data', (chunk: Buffer) => context.push(chunk));
      stream.on('limit', () => fail(tooLarge));
    });
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(tooLarge);
      if (name === 'context') {
        contextSeen = true;
        context.push(Buffer.from(value, 'latin1'));
      } else if (name === 'target_image') targetImage = value.trim();
      else if (name === 'tags' && value.trim()) tags.push(value.trim());
    });
    bb.on('error', (e: Error) => fail(new ControlApiError('bad_request', `the build upload is not valid multipart: ${e.message}`)));
    bb.on('close', () => {
      if (failed) return;
      clearTimeout(timer);
      if (!contextSeen) return fail(new ControlApiError('bad_request', 'context: missing (base64 of a tar.gz build context)', { field: 'context' }));
      if (!targetImage) return fail(new ControlApiError('bad_request', 'target_image: missing', { field: 'target_image' }));
      for (const [field, ref] of [['target_image', targetImage], ...tags.map((t) => ['tags', t])] as const) {
        if (!IMAGE_REF.test(ref)) return fail(new ControlApiError('bad_request', `${field}: ${JSON.stringify(ref)} is not an image reference`, { field }));
      }
      const text = Buffer.concat(context).toString('latin1').replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return fail(new ControlApiError('bad_request', 'context: not base64', { field: 'context' }));
      const tarGz = Buffer.from(text, 'base64');
      if (tarGz.length < 2 || tarGz[0] !== 0x1f || tarGz[1] !== 0x8b) return fail(new ControlApiError('bad_request', 'context: not a gzip file once decoded from base64 (a tar.gz is expected)', { field: 'context' }));
      resolve({ context: tarGz, tags: [targetImage, ...tags.filter((t) => t !== targetImage)] });
    });
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) fail(tooLarge);
    });
    req.pipe(bb);

    function fail(error: ControlApiError, close = false): void {
      if (failed) return;
      failed = true;
      clearTimeout(timer);
      req.unpipe();
      if (close) return reject({ error, close: true });
      drain(req, deadline).then((whole) => reject({ error, close: !whole }));
    }
  });
}
