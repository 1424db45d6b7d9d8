// File transfer over HTTP: upload (single file, zip, tar), download (zip, tar), list_files, limits
// and hostile archives, against a real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { createWriteStream, existsSync, lstatSync, mkdirSync, mkdtempSync, openAsBlob, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import yazl from 'yazl';
import { RuntimeClient } from '../../client/index.js';
import { KEY, startServer, type TestServer } from '../helpers/server.js';
import { linkChain, tarOf, zipOf, type EvilEntry } from '../archive/evil.js';

let server: TestServer;
let small: TestServer;
/** Archives may unpack to 1 MiB. */
let tight: TestServer;
let scratch: string;
beforeAll(async () => {
  [server, small, tight] = await Promise.all([startServer(), startServer({ args: ['--max-upload-mb', '1'] }), startServer({ args: ['--max-unpacked-mb', '1'] })]);
  scratch = mkdtempSync(join(tmpdir(), 'rc-transfer-'));
});
afterAll(async () => {
  await Promise.all([server?.stop(), small?.stop(), tight?.stop()]);
  rmSync(scratch, { recursive: true, force: true });
});

const auth = { 'x-session-api-key': KEY };

async function upload(s: TestServer, file: string, query: Record<string, string>, name = 'upload.bin') {
  const form = new FormData();
  form.append('file', await openAsBlob(file), name);
  const res = await fetch(`${s.url}/upload_file?${new URLSearchParams(query)}`, { method: 'POST', headers: auth, body: form });
  return { status: res.status, body: await res.json() };
}

async function download(s: TestServer, path: string, to: string, format?: string) {
  const res = await fetch(`${s.url}/download_files?${new URLSearchParams({ path, ...(format ? { format } : {}) })}`, { headers: auth });
  if (res.status !== 200) return { status: res.status, body: await res.json(), headers: res.headers };
  await pipeline(Readable.fromWeb(res.body as never), createWriteStream(to));
  return { status: 200, body: null, headers: res.headers };
}

/** kind, mode, sha256 or link target of every path under `root`, sorted. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir)) {
      const abs = join(dir, name);
      const rel = prefix + name;
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out.push(`${rel} link ${readlinkSync(abs)}`);
      else if (st.isDirectory()) {
        out.push(`${rel}/ dir ${(st.mode & 0o7777).toString(8)}`);
        walk(abs, rel + '/');
      } else out.push(`${rel} ${(st.mode & 0o7777).toString(8)} ${st.size} ${createHash('sha256').update(readFileSync(abs)).digest('hex')}`);
    }
  };
  walk(root, '');
  return out.sort();
}

/** ~`totalMb` MiB of random files of varied sizes in nested dirs, an executable and a symlink. */
function makeTree(root: string, totalMb: number): void {
  const sizes = [0, 1, 511, 4096, 65_537, 1_000_000, 3_333_333, 7 * 2 ** 20];
  let left = totalMb * 2 ** 20;
  let i = 0;
  while (left > 0) {
    const dir = join(root, `d${i % 5}`, i % 3 === 0 ? `deep/er${i % 2}` : '');
    mkdirSync(dir, { recursive: true });
    const size = Math.min(left, sizes[i % sizes.length] + (i * 7919) % 1000);
    writeFileSync(join(dir, `f${i}.bin`), randomFillSync(Buffer.allocUnsafe(size)), { mode: 0o644 });
    left -= size;
    i++;
  }
  mkdirSync(join(root, 'empty'));
  writeFileSync(join(root, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  symlinkSync('d0/f0.bin', join(root, 'link-to-f0'));
  symlinkSync('d1', join(root, 'link-to-dir'));
}

/** A zip of `root` written with yazl: unix modes, symlinks as S_IFLNK entries. */
async function zipTree(root: string, to: string): Promise<void> {
  const zip = new yazl.ZipFile();
  const done = pipeline(zip.outputStream as Readable, createWriteStream(to));
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir)) {
      const abs = join(dir, name);
      const st = lstatSync(abs);
      const rel = prefix + name;
      if (st.isSymbolicLink()) zip.addBuffer(Buffer.from(readlinkSync(abs)), rel, { mode: 0o120777 });
      else if (st.isDirectory()) {
        zip.addEmptyDirectory(rel, { mode: 0o040000 | (st.mode & 0o7777) });
        walk(abs, rel + '/');
      } else zip.addFile(abs, rel, { compress: false, mode: st.mode });
    }
  };
  walk(root, '');
  zip.end();
  await done;
}

/** A zip whose names yazl would refuse: written with same-length placeholders, then patched. */
async function evilTar(to: string, entries: { name: string; data?: string; link?: string; hardlink?: string }[]): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack as unknown as Readable, createWriteStream(to));
  for (const e of entries) {
    if (e.link !== undefined) pack.entry({ name: e.name, type: 'symlink', linkname: e.link });
    else if (e.hardlink !== undefined) pack.entry({ name: e.name, type: 'link', linkname: e.hardlink });
    else pack.entry({ name: e.name }, e.data ?? 'evil');
  }
  pack.finalize();
  await done;
}

async function evilZip(to: string, entries: { name: string; data?: string; link?: string }[]): Promise<void> {
  const zip = new yazl.ZipFile();
  const names = entries.map((e, i) => {
    const placeholder = `p${i}`.padEnd(e.name.length, 'x');
    // The name is written over the placeholder in place: a shorter name would keep its tail.
    if (e.name.length < placeholder.length) throw new Error(`evilZip: the entry name ${JSON.stringify(e.name)} is shorter than ${placeholder.length} characters`);
    if (e.link !== undefined) zip.addBuffer(Buffer.from(e.link), placeholder, { mode: 0o120777 });
    else zip.addBuffer(Buffer.from(e.data ?? 'evil'), placeholder, { mode: 0o100644 });
    return [placeholder, e.name] as const;
  });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  let buf = Buffer.concat(chunks);
  for (const [from, name] of names) {
    let at = buf.indexOf(from);
    expect(at).toBeGreaterThan(0);
    while (at !== -1) {
      buf.write(name, at, 'latin1');
      at = buf.indexOf(from, at + 1);
    }
  }
  writeFileSync(to, buf);
}

describe('upload and download of a tree', () => {
  it('round-trips ~200 MB through zip upload, then zip and tar downloads, byte for byte', async () => {
    const src = join(scratch, 'tree');
    makeTree(src, 200);
    const zipPath = join(scratch, 'tree.zip');
    await zipTree(src, zipPath);
    const dest = join(scratch, 'uploaded', 'here');
    const up = await upload(server, zipPath, { destination: dest, recursive: 'true' }, 'tree.zip');
    expect(up.status).toBe(200);
    const want = snapshot(src);
    expect(want.length).toBeGreaterThan(50);
    expect(snapshot(dest)).toEqual(want);
    expect(readdirSync(dest).filter((n) => n.startsWith('.rc-upload'))).toEqual([]);

    const gotZip = join(scratch, 'down.zip');
    const z = await download(server, dest, gotZip);
    expect(z.status).toBe(200);
    expect(z.headers.get('content-disposition')).toMatch(/attachment; filename="?here\.zip"?/);
    const fromZip = join(scratch, 'from-zip');
    mkdirSync(fromZip);
    execFileSync('unzip', ['-q', gotZip, '-d', fromZip]);
    expect(snapshot(fromZip)).toEqual(want);

    const gotTar = join(scratch, 'down.tar');
    expect((await download(server, dest, gotTar, 'tar')).status).toBe(200);
    const fromTar = join(scratch, 'from-tar');
    mkdirSync(fromTar);
    execFileSync('tar', ['-xpf', gotTar, '-C', fromTar]);
    expect(snapshot(fromTar)).toEqual(want);
    rmSync(src, { recursive: true });
    rmSync(dest, { recursive: true });
  }, 180_000);

  it('unpacks a tar upload with format=tar', async () => {
    const src = join(scratch, 'small-tree');
    makeTree(src, 3);
    const tarPath = join(scratch, 'small.tar');
    execFileSync('tar', ['-cf', tarPath, '-C', src, '.']);
    const dest = join(scratch, 'tar-dest');
    const up = await upload(server, tarPath, { destination: dest, recursive: 'true', format: 'tar' }, 'small.tar');
    expect(up.status).toBe(200);
    expect(snapshot(dest)).toEqual(snapshot(src));
  });

  it('downloads a single file as an archive holding it', async () => {
    const file = join(scratch, 'one.txt');
    writeFileSync(file, 'just one\n', { mode: 0o640 });
    const got = join(scratch, 'one.tar');
    expect((await download(server, file, got, 'tar')).status).toBe(200);
    expect(execFileSync('tar', ['-tvf', got]).toString()).toMatch(/^-rw-r----- .* one\.txt\n$/);
  });

  it('refuses to download a named pipe, and leaves one inside a directory out, without waiting on it', async () => {
    const src = join(scratch, 'with-pipe');
    mkdirSync(src);
    writeFileSync(join(src, 'file.txt'), 'x');
    execFileSync('mkfifo', [join(src, 'pipe')]);
    const res = await fetch(`${server.url}/download_files?${new URLSearchParams({ path: join(src, 'pipe'), format: 'tar' })}`, { headers: auth });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toMatch(/is not a file, a directory or a symlink/);
    const got = join(scratch, 'with-pipe.tar');
    expect((await download(server, src, got, 'tar')).status).toBe(200);
    expect(execFileSync('tar', ['-tf', got]).toString().split('\n').filter(Boolean).sort()).toEqual(['file.txt']);
  });

  it('keeps serving downloads after clients hang up mid-archive (tar and zip)', async () => {
    const src = join(scratch, 'hangup');
    mkdirSync(src);
    for (let i = 0; i < 4; i++) writeFileSync(join(src, `f${i}`), randomBytes(6 * 2 ** 20));
    for (const format of ['tar', 'zip', 'tar']) {
      const ac = new AbortController();
      const res = await fetch(`${server.url}/download_files?${new URLSearchParams({ path: src, format })}`, { headers: auth, signal: ac.signal });
      const reader = res.body!.getReader();
      await reader.read();
      ac.abort();
      await reader.read().catch(() => {});
    }
    const whole = join(scratch, 'hangup.tar');
    expect((await download(server, src, whole, 'tar')).status).toBe(200);
    const back = join(scratch, 'hangup-back');
    mkdirSync(back);
    execFileSync('tar', ['-xf', whole, '-C', back]);
    expect(snapshot(back)).toEqual(snapshot(src));
  });

  it('answers 404 for a missing path', async () => {
    const r = await download(server, join(scratch, 'missing'), join(scratch, 'x.zip'));
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
  });
});

describe('single-file upload', () => {
  it('puts the file at destination/<filename>, creating the destination', async () => {
    const file = join(scratch, 'payload.bin');
    writeFileSync(file, randomBytes(300_000));
    const dest = join(scratch, 'single', 'dir');
    const up = await upload(server, file, { destination: dest }, 'renamed.bin');
    expect(up.status).toBe(200);
    expect(up.body.paths).toEqual([join(dest, 'renamed.bin')]);
    expect(readFileSync(join(dest, 'renamed.bin')).equals(readFileSync(file))).toBe(true);
    expect(readdirSync(dest)).toEqual(['renamed.bin']);
  });

  it('refuses a relative destination and a body without a file field', async () => {
    const file = join(scratch, 'rel.txt');
    writeFileSync(file, 'x');
    expect((await upload(server, file, { destination: 'relative/dir' })).status).toBe(400);
    const res = await fetch(`${server.url}/upload_file?destination=${scratch}/nofield`, { method: 'POST', headers: auth, body: new FormData() });
    expect(res.status).toBe(400);
  });
});

describe('limits', () => {
  const leftIn = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

  it('answers 413 at once when Content-Length is over --max-upload-mb, leaving no file behind', async () => {
    const file = join(scratch, 'big.bin');
    writeFileSync(file, randomBytes(3 * 2 ** 20));
    const dest = join(scratch, 'limited');
    const up = await upload(small, file, { destination: dest }, 'big.bin');
    expect(up.status).toBe(413);
    expect(up.body.error.code).toBe('payload_too_large');
    expect(leftIn(dest)).toEqual([]);
    const zipUp = await upload(small, file, { destination: dest, recursive: 'true' }, 'big.zip');
    expect(zipUp.status).toBe(413);
    expect(leftIn(dest)).toEqual([]);
  });

  it('answers 413 when a chunked body (no Content-Length) goes over the limit, and keeps serving', async () => {
    const dest = join(scratch, 'limited-chunked');
    const src = join(scratch, 'limited-src');
    mkdirSync(src);
    writeFileSync(join(src, 'big.bin'), randomBytes(2 * 2 ** 20));
    const client = new RuntimeClient({ url: small.url, apiKey: KEY });
    for (const format of ['tar', 'zip'] as const) {
      await expect(client.upload(src, dest, { format })).rejects.toMatchObject({ code: 'bad_action', data: { error: { code: 'payload_too_large' } } });
      expect(leftIn(dest)).toEqual([]);
    }
    await client.close();
    expect((await fetch(`${small.url}/alive`)).status).toBe(200);
  });

  it('answers 413 to a zip bomb (48 MiB of deflated zeros in a ~50 KB zip) over --max-unpacked-mb, leaving nothing', async () => {
    const bomb = join(scratch, 'bomb.zip');
    writeFileSync(bomb, await zipOf([0, 1, 2].map((i) => ({ name: `zeros/${i}.bin`, data: Buffer.alloc(16 * 2 ** 20) })), true));
    expect(statSync(bomb).size).toBeLessThan(200_000);
    const dest = join(scratch, 'bombed');
    const up = await upload(tight, bomb, { destination: dest, recursive: 'true' }, 'bomb.zip');
    expect(up.status).toBe(413);
    expect(up.body.error).toMatchObject({ code: 'payload_too_large', message: 'the archive unpacks to more than 1 MiB (--max-unpacked-mb); nothing was extracted' });
    expect(leftIn(dest)).toEqual([]);
    // The same zip is fine where the limit is the default.
    expect((await upload(server, bomb, { destination: dest, recursive: 'true' }, 'bomb.zip')).status).toBe(200);
    expect(readdirSync(join(dest, 'zeros'))).toEqual(['0.bin', '1.bin', '2.bin']);
  });

  it('answers 413 when a streamed tar passes --max-unpacked-mb partway, leaving nothing, and keeps serving', async () => {
    const src = join(scratch, 'unpacked-src');
    mkdirSync(src);
    for (const name of ['a.bin', 'b.bin']) writeFileSync(join(src, name), randomBytes(700 * 1024));
    const dest = join(scratch, 'unpacked-limited');
    const client = new RuntimeClient({ url: tight.url, apiKey: KEY });
    for (const format of ['tar', 'zip'] as const) {
      await expect(client.upload(src, dest, { format })).rejects.toMatchObject({ code: 'bad_action', data: { error: { code: 'payload_too_large', message: /unpacks to more than 1 MiB/ } } });
      expect(leftIn(dest)).toEqual([]);
    }
    rmSync(join(src, 'b.bin'));
    expect((await client.upload(src, dest)).paths).toEqual([join(dest, 'a.bin')]);
    await client.close();
  });
});

describe('hostile archives', () => {
  const outside = () => `rc-evil-${randomBytes(4).toString('hex')}`;

  type Evil = { name: string; data?: string; link?: string; hardlink?: string };
  const cases: [string, (o: string) => Evil[], RegExp][] = [
    ['a ../ entry', (o) => [{ name: 'ok.txt' }, { name: `../${o}` }], /contains "\.\."/],
    ['an absolute entry', (o) => [{ name: 'ok.txt' }, { name: `/tmp/${o}` }], /absolute path/],
    ['a symlink to /etc, then a file through it', (o) => [{ name: 'ok.txt' }, { name: 'etc', link: '/etc' }, { name: `etc/${o}` }], /symlink to an absolute path/],
    ['a relative symlink out of the destination', (o) => [{ name: 'sub/up', link: '../../..' }, { name: `sub/up/${o}` }], /outside the destination/],
    ['a file through an inside symlink', (o) => [{ name: 'real/x' }, { name: 'alias', link: 'real' }, { name: `alias/${o}` }], /through the symlink alias/],
    ['a symlink that comes after a file written through its name', (o) => [{ name: 'real/x' }, { name: `late/${o}` }, { name: 'late', link: 'real' }], /through the symlink late/],
  ];
  const tarOnly: typeof cases = [
    ['a hard link to an absolute path', () => [{ name: 'ok.txt' }, { name: 'pw', hardlink: '/etc/passwd' }], /absolute path/],
    ['a hard link to a name not in the archive', () => [{ name: 'ok.txt' }, { name: 'h', hardlink: 'later.txt' }, { name: 'later.txt' }], /not a file before it/],
  ];
  const rows = [...cases.map(([l, m, r]) => ['zip', l, m, r] as const), ...[...cases, ...tarOnly].map(([l, m, r]) => ['tar', l, m, r] as const)];

  it.each(rows)('%s: rejects %s with 400, writing nothing', async (format, _label, make, message) => {
    const o = outside();
    const archive = join(scratch, `${o}.${format}`);
    await (format === 'zip' ? evilZip(archive, make(o)) : evilTar(archive, make(o)));
    const parent = join(scratch, `evil-parent-${o}`);
    const dest = join(parent, 'a', 'b');
    mkdirSync(dest, { recursive: true });
    const up = await upload(server, archive, { destination: dest, recursive: 'true', format }, `evil.${format}`);
    expect(up.status).toBe(400);
    expect(up.body.error.code).toBe('bad_request');
    expect(up.body.error.message).toMatch(message);
    expect(readdirSync(dest)).toEqual([]);
    expect(readdirSync(parent)).toEqual(['a']);
    expect(readdirSync(join(parent, 'a'))).toEqual(['b']);
    expect(existsSync(`/tmp/${o}`)).toBe(false);
    expect(existsSync(`/etc/${o}`)).toBe(false);
  });

  // Issue 10 item 3: links that each stay inside the destination alone, and lead out together.
  const chains: [string, EvilEntry[], RegExp][] = [
    ['x/l1 -> .. and l2 -> x/l1/..', linkChain(2), /^archive entry "l2" is a symlink pointing outside the destination \(x\/l1\/\.\., through the symlink x\/l1\)/],
    ['a chain of 13 links to / and a link to /etc/passwd through it', [...linkChain(13), { name: 'passwd', link: 'l13/etc/passwd' }], /"l2" is a symlink pointing outside the destination/],
    ['two symlinks that lead to each other', [{ name: 'a', link: 'b/c' }, { name: 'b', link: 'a' }], /"a" is a symlink that cannot be resolved: it leads through more than 40 symlinks/],
  ];
  it.each(chains.flatMap(([label, entries, message]) => (['tar', 'zip'] as const).map((format) => [format, label, entries, message] as const)))(
    '%s: rejects %s with 400, writing nothing',
    async (format, _label, entries, message) => {
      const archive = join(scratch, `chain-${randomBytes(4).toString('hex')}.${format}`);
      writeFileSync(archive, format === 'tar' ? await tarOf(entries) : await zipOf(entries));
      const parent = join(scratch, `chain-parent-${randomBytes(4).toString('hex')}`);
      const dest = join(parent, 'a', 'b');
      mkdirSync(dest, { recursive: true });
      const up = await upload(server, archive, { destination: dest, recursive: 'true', format }, `chain.${format}`);
      expect(up.status).toBe(400);
      expect(up.body.error.code).toBe('bad_request');
      expect(up.body.error.message).toMatch(message);
      expect(readdirSync(dest)).toEqual([]);
      expect(readdirSync(parent)).toEqual(['a']);
    },
  );

  it('rejects a tar cut short (over the limit or not) and a tar whose entries clash, writing nothing', async () => {
    const good = join(scratch, 'good.tar');
    await evilTar(good, [{ name: 'a.txt', data: 'x'.repeat(5000) }, { name: 'b.txt' }]);
    const cut = join(scratch, 'cut.tar');
    writeFileSync(cut, readFileSync(good).subarray(0, 2048));
    const clash = join(scratch, 'clash.tar');
    await evilTar(clash, [{ name: 'f' }, { name: 'f/inside' }]);
    for (const [file, message] of [[cut, /could not be unpacked/], [clash, /could not be unpacked/]] as const) {
      const dest = join(scratch, `tar-broken-${randomBytes(3).toString('hex')}`);
      const up = await upload(server, file, { destination: dest, recursive: 'true', format: 'tar' }, 'x.tar');
      expect(up.status).toBe(400);
      expect(up.body.error.message).toMatch(message);
      expect(readdirSync(dest)).toEqual([]);
    }
  });

  it('rejects a zip damaged in transit (a flipped byte, stored or deflated) and a zip whose entries clash, writing nothing', async () => {
    const stored = async (entries: [string, string][], compress = false) => {
      const zip = new yazl.ZipFile();
      for (const [name, data] of entries) zip.addBuffer(Buffer.from(data), name, { compress });
      zip.end();
      const parts: Buffer[] = [];
      for await (const c of zip.outputStream) parts.push(c as Buffer);
      return Buffer.concat(parts);
    };
    const flipped = await stored([['a.txt', 'A'.repeat(5000)], ['b.txt', 'B'.repeat(100)]]);
    flipped[flipped.indexOf('A'.repeat(100)) + 40] ^= 1;
    const damaged = join(scratch, 'damaged.zip');
    writeFileSync(damaged, flipped);
    // Deflated data that inflates fine, but not to what was zipped: its CRC-32 (in the central directory) says so.
    const deflated = await stored([['c.txt', 'C'.repeat(5000)]], true);
    deflated[deflated.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 16] ^= 1;
    const wrongCrc = join(scratch, 'wrong-crc.zip');
    writeFileSync(wrongCrc, deflated);
    const clash = join(scratch, 'clash.zip');
    writeFileSync(clash, await stored([['f', 'x'], ['f/inside', 'y']]));
    for (const [file, message] of [
      [damaged, /"a\.txt" is damaged: its CRC-32 does not match/],
      [wrongCrc, /"c\.txt" is damaged: its CRC-32 does not match/],
      [clash, /could not be unpacked/],
    ] as const) {
      const dest = join(scratch, `zip-broken-${randomBytes(3).toString('hex')}`);
      const up = await upload(server, file, { destination: dest, recursive: 'true' }, 'x.zip');
      expect([up.status, file]).toEqual([400, file]);
      expect(up.body.error.message).toMatch(message);
      expect(readdirSync(dest)).toEqual([]);
    }
    // The same name twice: the later one wins, as with unzip -o.
    const twice = join(scratch, 'twice.zip');
    writeFileSync(twice, await stored([['same.txt', 'first'], ['same.txt', 'second']]));
    const dest = join(scratch, 'zip-twice');
    expect((await upload(server, twice, { destination: dest, recursive: 'true' }, 'x.zip')).status).toBe(200);
    expect(readFileSync(join(dest, 'same.txt'), 'utf8')).toBe('second');
  });

  it('rejects a file that is not a zip with 400', async () => {
    const file = join(scratch, 'not.zip');
    writeFileSync(file, 'definitely not a zip');
    const dest = join(scratch, 'notzip');
    expect((await upload(server, file, { destination: dest, recursive: 'true' })).status).toBe(400);
    expect(readdirSync(dest)).toEqual([]);
  });
});

describe('list_files', () => {
  const list = (body: unknown) =>
    fetch(`${server.url}/list_files`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('lists directories first with a trailing /, then files, case-insensitively', async () => {
    const dir = join(scratch, 'listing');
    for (const d of ['b', 'A', 'c-dir']) mkdirSync(join(dir, d), { recursive: true });
    for (const f of ['c.txt', 'B.txt', 'a.txt', '.hidden']) writeFileSync(join(dir, f), '');
    symlinkSync('A', join(dir, 'z-link'));
    const res = await list({ path: dir });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(['A/', 'b/', 'c-dir/', 'z-link/', '.hidden', 'a.txt', 'B.txt', 'c.txt']);
  });

  it("defaults to the default session's cwd", async () => {
    const dir = join(scratch, 'cwd-here');
    mkdirSync(join(dir, 'inner'), { recursive: true });
    await server.run(`cd ${dir}`);
    const res = await list({});
    expect(await res.json()).toEqual(['inner/']);
  });

  it('answers 404 for a missing path', async () => {
    const res = await list({ path: join(scratch, 'nothing-here') });
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('not_found');
  });
});

describe("RuntimeClient's file helpers", () => {
  it('upload a directory, download it back (tar and zip) and list it', async () => {
    const client = new RuntimeClient({ url: server.url, apiKey: KEY });
    const src = join(scratch, 'client-src');
    makeTree(src, 5);
    for (const format of ['tar', 'zip'] as const) {
      const dest = join(scratch, `client-dest-${format}`);
      const up = await client.upload(src, dest, { format });
      expect(up.paths.length).toBeGreaterThan(3);
      expect(snapshot(dest)).toEqual(snapshot(src));
      const back = join(scratch, `client-back-${format}`);
      await client.download(dest, back, { format });
      expect(snapshot(back)).toEqual(snapshot(src));
      expect(statSync(join(back, 'run.sh')).mtimeMs).toBeCloseTo(statSync(join(src, 'run.sh')).mtimeMs, -4); // zip keeps 2 s
    }
    const dest = join(scratch, 'client-dest-tar');
    expect(await client.listFiles(dest)).toEqual(['d0/', 'd1/', 'd2/', 'd3/', 'd4/', 'empty/', 'link-to-dir/', 'link-to-f0', 'run.sh']);
    const file = join(scratch, 'client-one.txt');
    writeFileSync(file, 'one');
    expect((await client.upload(file, dest)).paths).toEqual([join(dest, 'client-one.txt')]);
    expect(readFileSync(join(dest, 'client-one.txt'), 'utf8')).toBe('one');
    const zipped = join(scratch, 'client-tree.zip');
    await zipTree(src, zipped);
    const unzipped = join(scratch, 'client-unzipped');
    await client.upload(zipped, unzipped, { recursive: true }); // a .zip name says its format
    expect(snapshot(unzipped)).toEqual(snapshot(src));
    await expect(client.download(join(scratch, 'absent'), join(scratch, 'x'))).rejects.toMatchObject({ code: 'bad_action' });
    await expect(client.listFiles(join(scratch, 'absent'))).rejects.toMatchObject({ code: 'bad_action' });
    await expect(client.upload(join(scratch, 'absent'), dest)).rejects.toMatchObject({ code: 'bad_action' });
    await client.close();
  });

  it('download refuses a served tree whose symlinks lead out of the download directory together (issue 10 item 3), leaving nothing', async () => {
    const client = new RuntimeClient({ url: server.url, apiKey: KEY });
    // What a hostile sandbox can make: each link stays inside on its own.
    const served = join(scratch, 'served-chain');
    mkdirSync(join(served, 'x'), { recursive: true });
    writeFileSync(join(served, 'innocent.txt'), 'hello');
    for (const e of [...linkChain(13), { name: 'passwd', link: 'l13/etc/passwd' }]) symlinkSync(e.link!, join(served, e.name));
    for (const format of ['tar', 'zip'] as const) {
      const local = join(scratch, `chain-download-${format}`, 'here');
      await expect(client.download(served, local, { format })).rejects.toMatchObject({ code: 'bad_action', message: /"l2" is a symlink pointing outside the destination/ });
      expect(existsSync(join(scratch, `chain-download-${format}`))).toBe(false);
    }
    // Without the chain, the same tree downloads.
    for (const name of ['l2', 'passwd', ...linkChain(13).slice(2).map((e) => e.name)]) rmSync(join(served, name));
    const local = join(scratch, 'chain-download-ok');
    await client.download(served, local);
    expect(snapshot(local)).toEqual(['innocent.txt 644 5 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824', 'x/ dir 755', 'x/l1 link ..']);
    await client.close();
  });

  it('download stops at maxUnpackedBytes (tar and zip), leaving nothing', async () => {
    const client = new RuntimeClient({ url: server.url, apiKey: KEY });
    const served = join(scratch, 'served-big');
    mkdirSync(served);
    for (const name of ['a.bin', 'b.bin']) writeFileSync(join(served, name), randomBytes(700 * 1024));
    for (const format of ['tar', 'zip'] as const) {
      const local = join(scratch, `big-download-${format}`);
      await expect(client.download(served, local, { format, maxUnpackedBytes: 2 ** 20 })).rejects.toMatchObject({
        code: 'bad_action',
        message: 'download: the archive unpacks to more than 1 MiB (maxUnpackedBytes); nothing was written',
        data: { maxUnpackedBytes: 2 ** 20 },
      });
      expect(existsSync(local)).toBe(false);
      await client.download(served, local, { format, maxUnpackedBytes: 1500 * 1024 });
      expect(snapshot(local)).toEqual(snapshot(served));
    }
    await expect(client.download(served, join(scratch, 'never'), { maxUnpackedBytes: -1 })).rejects.toThrow(new TypeError('options.maxUnpackedBytes must be a non-negative number, got -1'));
    await client.close();
  });
});

describe('--username', () => {
  const isRoot = process.getuid?.() === 0;
  it.runIf(isRoot)('gives everything an upload creates to the session user', async () => {
    const owned = await startServer({ args: ['--username', 'nobody', '--working-dir', '/tmp'] });
    try {
      const src = join(scratch, 'owned-src');
      makeTree(src, 1);
      const zipPath = join(scratch, 'owned.zip');
      await zipTree(src, zipPath);
      const base = join(scratch, 'owned');
      const dest = join(base, 'new', 'dir');
      expect((await upload(owned, zipPath, { destination: dest, recursive: 'true' })).status).toBe(200);
      expect((await upload(owned, zipPath, { destination: dest }, 'plain.zip')).status).toBe(200);
      const owners = new Set<number>();
      const walk = (p: string) => {
        owners.add(lstatSync(p).uid);
        if (lstatSync(p).isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
      };
      walk(join(base, 'new'));
      expect([...owners]).toEqual([65534]);
      expect(snapshot(dest).filter((l) => !l.startsWith('plain.zip'))).toEqual(snapshot(src));
    } finally {
      await owned.stop();
    }
  });
});
