// RuntimeClient.download against a hostile server (node:http on port 0 answering /download_files
// with a hand-made archive): symlinks that lead out of the download directory together (issue 10
// item 3) and archives that unpack past maxUnpackedBytes are refused, and nothing is left.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeClient } from '../../client/index.js';
import { linkChain, tarOf, zipOf, type EvilEntry } from '../archive/evil.js';

const MiB = 2 ** 20;
let scratch: string;
let server: Server;
let client: RuntimeClient;
/** How the server answers the next GET /download_files. */
let answer: (res: ServerResponse, format: string) => void;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'rc-download-'));
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname !== '/download_files') return void res.writeHead(404).end();
    answer(res, url.searchParams.get('format') ?? 'zip');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  client = new RuntimeClient({ url: `http://127.0.0.1:${port}`, apiKey: 'k', retries: 0 });
});
afterAll(async () => {
  await client?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
});

const serve = (archive: Buffer) => (answer = (res) => res.writeHead(200, { 'content-length': archive.length }).end(archive));
const archiveOf = (format: 'tar' | 'zip', entries: EvilEntry[], compress = false) => (format === 'tar' ? tarOf(entries) : zipOf(entries, compress));

let n = 0;
/** A download directory below one that exists, and that parent: after a refusal it holds nothing. */
const target = () => {
  const parent = join(scratch, `p${n++}`);
  mkdirSync(parent);
  return { parent, local: join(parent, 'new', 'dir') };
};

describe.each(['tar', 'zip'] as const)('%s', (format) => {
  it('refuses x/l1 -> .. with l2 -> x/l1/.., leaving nothing', async () => {
    serve(await archiveOf(format, [{ name: 'ok.txt' }, ...linkChain(2)]));
    const { parent, local } = target();
    await expect(client.download('/remote', local, { format })).rejects.toMatchObject({
      code: 'bad_action',
      message: 'download: archive entry "l2" is a symlink pointing outside the destination (x/l1/.., through the symlink x/l1); nothing was extracted',
      data: { entry: 'l2' },
    });
    expect(readdirSync(parent)).toEqual([]);
  });

  it('refuses a chain of 13 links that reaches / and a link to /etc/passwd through it, leaving nothing', async () => {
    serve(await archiveOf(format, [...linkChain(13), { name: 'passwd', link: 'l13/etc/passwd' }]));
    const { parent, local } = target();
    await expect(client.download('/remote', local, { format })).rejects.toMatchObject({ code: 'bad_action', message: /"l2" is a symlink pointing outside the destination/ });
    expect(readdirSync(parent)).toEqual([]);
  });

  it('keeps links that stay inside through other links, and what was in the directory before', async () => {
    serve(await archiveOf(format, [{ name: 'real/deep/f', data: 'f' }, { name: 'up', link: 'real/deep/..' }, { name: 'a/b', link: '../up/deep/f' }]));
    const { local } = target();
    mkdirSync(local, { recursive: true });
    writeFileSync(join(local, 'mine.txt'), 'mine');
    await client.download('/remote', local, { format });
    expect(readdirSync(local).sort()).toEqual(['a', 'mine.txt', 'real', 'up']);
    expect(readlinkSync(join(local, 'a/b'))).toBe('../up/deep/f');
  });

  it('refuses an archive that unpacks past maxUnpackedBytes, leaving nothing', async () => {
    serve(await archiveOf(format, [0, 1, 2].map((i) => ({ name: `zeros/${i}.bin`, data: Buffer.alloc(16 * MiB) })), true));
    const { parent, local } = target();
    await expect(client.download('/remote', local, { format, maxUnpackedBytes: MiB })).rejects.toMatchObject({
      code: 'bad_action',
      message: 'download: the archive unpacks to more than 1 MiB (maxUnpackedBytes); nothing was written',
      data: { maxUnpackedBytes: MiB },
    });
    expect(readdirSync(parent)).toEqual([]);
  });

  it('stops reading an endless archive at 10 GiB by default: refused at its first header, leaving nothing', async () => {
    const first = await archiveOf(format, [{ name: 'huge.bin', data: '' }]);
    let sent = 0;
    answer = (res) => {
      res.writeHead(200);
      if (format === 'tar') {
        // A header that claims 16 GiB, then zeros for as long as the client reads.
        const header = Buffer.from(first.subarray(0, 512));
        header.write('200000000000\0', 124, 'latin1');
        header.fill(' ', 148, 156);
        let sum = 0;
        for (const b of header) sum += b;
        header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
        res.write(header);
      }
      const zeros = Buffer.alloc(MiB);
      const more = () => {
        while (!res.destroyed && sent < 64 * MiB) {
          sent += zeros.length;
          if (!res.write(zeros)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    };
    const { parent, local } = target();
    const limit = format === 'tar' ? {} : { maxUnpackedBytes: 8 * MiB }; // a zip is spooled: its cap is the limit
    await expect(client.download('/remote', local, { format, ...limit })).rejects.toMatchObject({
      code: 'bad_action',
      message: `download: the archive unpacks to more than ${format === 'tar' ? 10240 : 8} MiB (maxUnpackedBytes); nothing was written`,
    });
    expect(sent).toBeLessThan(32 * MiB);
    expect(readdirSync(parent)).toEqual([]);
    expect(existsSync(local)).toBe(false);
  });
});
