// The generated Dockerfile and mount-mode arguments, as text (the Docker tests run them for real).
import { describe, expect, it } from 'vitest';
import { renderDockerfile } from '../../dockerfiles/dockerfile.js';
import { mountCreateBody, mountRunArgs } from '../../dockerfiles/mount.js';
import { derivedTag } from '../../client/docker/build.js';

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

describe('derivedTag', () => {
  it('depends on the base image id, the bundle digest and the options', () => {
    const a = derivedTag('Repo/Name:Tag', 'sha256:1', 'd1', {});
    expect(a).toMatch(/^rc-injected\/repo-name-tag:[0-9a-f]{16}$/);
    expect(derivedTag('Repo/Name:Tag', 'sha256:1', 'd1', {})).toBe(a);
    expect(derivedTag('Repo/Name:Tag', 'sha256:2', 'd1', {})).not.toBe(a);
    expect(derivedTag('Repo/Name:Tag', 'sha256:1', 'd2', {})).not.toBe(a);
    expect(derivedTag('Repo/Name:Tag', 'sha256:1', 'd1', { user: 'x' })).not.toBe(a);
  });
});
