// The generated Dockerfile and mount-mode arguments, as text (the Docker tests run them for real).
import { describe, expect, it } from 'vitest';
import { renderDockerfile } from '../../dockerfiles/dockerfile.js';
import { mountCreateBody, mountRunArgs } from '../../dockerfiles/mount.js';
import { injectedImageTag } from '../../dockerfiles/tag.js';

describe('renderDockerfile', () => {
  const text = renderDockerfile({ baseImage: 'python:3.12-slim', version: '1.2.3', digest: 'abc' });
  const stages = text.split('\n').filter((l) => l.startsWith('FROM '));

  it('ends with a stage FROM the base image that copies the bundle to /opt/runtime-client', () => {
    expect(stages).toEqual(['FROM scratch AS runtime-client', 'FROM python:3.12-slim']);
    expect(text).toMatch(/FROM python:3.12-slim\nCOPY runtime-client\/ \/opt\/runtime-client\//);
  });

  it('sets the init entrypoint, port, health check and labels', () => {
    expect(text).toContain('ENTRYPOINT ["/opt/runtime-client/bin/tini","--","/opt/runtime-client/bin/runtime-client"]');
    expect(text).toContain('ENV RUNTIME_CLIENT_PORT=60000');
    expect(text).toContain('EXPOSE 60000');
    expect(text).toMatch(/HEALTHCHECK .* CMD \["\/opt\/runtime-client\/bin\/runtime-client","probe"\]/);
    expect(text).toContain('LABEL dev.runtime-client.version="1.2.3" dev.runtime-client.bundle-digest="abc"');
  });

  it('leaves USER and WORKDIR alone unless asked', () => {
    expect(text).not.toMatch(/^(USER|WORKDIR) /m);
    const custom = renderDockerfile({ baseImage: 'img', version: '1', digest: 'd', port: 8000, user: 'agent', workdir: '/workspace' });
    expect(custom).toContain('COPY --from=runtime-client --chown=agent /empty/ /workspace/');
    expect(custom).toContain('WORKDIR /workspace');
    expect(custom).toContain('CMD ["--username","agent"]');
    expect(custom).toContain('EXPOSE 8000');
  });
});

describe('mount mode', () => {
  it('mounts the bundle read-only and makes the init the entrypoint', () => {
    const args = mountRunArgs({ baseImage: 'img:1', bundleDir: '/b', port: 61000 });
    expect(args.slice(0, 2)).toEqual(['--volume', '/b:/opt/runtime-client:ro']);
    const image = args.indexOf('img:1');
    expect(args.slice(image)).toEqual(['img:1', '--', '/opt/runtime-client/bin/runtime-client']);
    expect(args).toContain('RUNTIME_CLIENT_PORT=61000');
    expect(args[args.indexOf('--entrypoint') + 1]).toBe('/opt/runtime-client/bin/tini');
  });

  it('gives the Engine API an exec-form health check', () => {
    const body = mountCreateBody({ baseImage: 'img:1', bundleDir: '/b' }) as { Healthcheck: { Test: string[] } };
    expect(body.Healthcheck.Test).toEqual(['CMD', '/opt/runtime-client/bin/runtime-client', 'probe']);
  });
});

describe('injectedImageTag', () => {
  const base = { baseImage: 'Repo/Name:Tag', baseId: 'sha256:1', version: '1', digest: 'd1' };

  it('depends on the base image id, the bundle and the options', () => {
    const a = injectedImageTag(base);
    expect(a).toMatch(/^rc-injected\/repo-name-tag:[0-9a-f]{16}$/);
    expect(injectedImageTag({ ...base })).toBe(a);
    expect(injectedImageTag({ ...base, baseId: 'sha256:2' })).not.toBe(a);
    expect(injectedImageTag({ ...base, digest: 'd2' })).not.toBe(a);
    expect(injectedImageTag({ ...base, version: '2' })).not.toBe(a);
    expect(injectedImageTag({ ...base, user: 'x' })).not.toBe(a);
    expect(injectedImageTag({ ...base, workdir: '/w' })).not.toBe(a);
    expect(injectedImageTag({ ...base, port: 8000 })).not.toBe(a);
    expect(injectedImageTag({ ...base, healthIntervalSeconds: 30 })).not.toBe(a);
  });

  // Issue 11: `runtime-client build` passed --port's default 60000, DockerRuntime.start passed
  // nothing, and the two tags differed: two cache entries, two builds.
  it('gives an option left out and the same option at its default one tag', () => {
    const a = injectedImageTag(base);
    expect(injectedImageTag({ ...base, port: 60000, healthIntervalSeconds: 5, user: undefined, workdir: undefined })).toBe(a);
    expect(injectedImageTag({ ...base, user: '', workdir: '' })).toBe(a);
    expect(injectedImageTag({ ...base, bundleDir: '/somewhere/else' })).toBe(a); // named in a comment only
  });
});

describe('the header comment', () => {
  it('says what the build context must hold, and how to get one', () => {
    const text = renderDockerfile({ baseImage: 'img:1', version: '1.2.3', digest: 'abc', bundleDir: '/b/dist/runtime-client' });
    const comments = text.split('\n').filter((l) => l.startsWith('#'));
    expect(comments.join('\n')).toContain('runtime-client/   a copy of the runtime-client bundle (/b/dist/runtime-client)');
    expect(comments.join('\n')).toContain('empty/            an empty directory');
    expect(comments.join('\n')).toContain('`runtime-client dockerfile --base-image img:1 --context DIR`');
    // Every COPY source is one of the two the comment names.
    const sources = text.split('\n').filter((l) => /^COPY (?!--from)/.test(l)).map((l) => l.split(' ')[1]);
    expect(sources.sort()).toEqual(['empty/', 'runtime-client/']);
  });
});
