// `npm run bundle`: dist/runtime-client/, one self-contained directory that runs the server in any
// Linux x86_64 container (no glibc, no bash, no shell at all), and dist/runtime-client.tar.gz.
//
//   bin/runtime-client   Node single executable application (SEA): the local node, stripped, with
//                        the server (bundled as CommonJS) injected by postject, then patchelf'd:
//                        ELF interpreter /opt/runtime-client/lib/ld-linux-x86-64.so.2 and
//                        DT_RPATH $ORIGIN/../lib, so it never uses the image's libc and never
//                        needs LD_LIBRARY_PATH (which would leak into every shell).
//   bin/bash             Debian bash-static, for images without bash
//   bin/tini             Debian tini-static, an init for PID 1
//   bin/session-init     the init of each shell session (server/shell/init/session-init.c), static,
//                        built by bundle/native.mjs with the local gcc
//   bin/ipython-driver.py  the run_ipython cell driver (server/ipython/driver.py), stdlib-only
//   lib/                 the dynamic loader and the libraries node and pty.node need (Debian debs)
//   lib/node_modules/node-pty/   the real node-pty (JS + build/Release/pty.node), loaded by
//                        bundle/node-pty-shim.cjs through module.createRequire
//   manifest.json        version, node version, file count, sizes, sha256 digest of all files
//
// Everything downloaded or slow is cached in .cache/bundle/: Debian packages (apt-get download,
// no root needed, extracted with dpkg-deb), the stripped node, and the final binary keyed by
// its inputs; a warm run only re-bundles the JS, re-assembles the directory and checks it.
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { readElf } from './elf.mjs';
import { buildSessionInit } from './native.mjs';
import { root, serverBuild, version } from './options.mjs';
import { BUNDLE_MOUNT } from '@runtime-client/dockerfiles';

const MOUNT = BUNDLE_MOUNT;
const INTERP = `${MOUNT}/lib/ld-linux-x86-64.so.2`;
const RPATH = '$ORIGIN/../lib';
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** Bump when the way the binary is made changes, to invalidate cached binaries. */
const RECIPE = 'sea-2';

const CACHE = join(root, '.cache', 'bundle');
const DIST = join(root, 'dist');
const OUT = join(DIST, 'runtime-client');
const TARBALL = join(DIST, 'runtime-client.tar.gz');
const NODE_PTY = join(root, 'node_modules', 'node-pty');
const POSTJECT = dirname(createRequire(import.meta.url).resolve('postject/package.json'));
const POSTJECT_CLI = join(POSTJECT, 'dist', 'cli.js');
const POSTJECT_VERSION = JSON.parse(fs.readFileSync(join(POSTJECT, 'package.json'), 'utf8')).version;

/** Debian packages: what goes in the bundle, and the tools that make it. */
const SHIPPED = ['libc6', 'libstdc++6', 'libgcc-s1', 'bash-static', 'tini'];
const TOOLS = ['patchelf', 'binutils-x86-64-linux-gnu', 'libbinutils'];
const DEBS = [...SHIPPED, ...TOOLS];

const started = performance.now();
const log = (msg) => process.stdout.write(`bundle: ${msg}\n`);
const ms = (t) => `${Math.round(performance.now() - t)} ms`;
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
const sha256 = (...parts) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest('hex');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error || r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})${out ? `:\n${out}` : ''}`);
  }
  return r.stdout;
}

/** Puts the finished `tmp` directory in place of `final` (an interrupted build leaves the old one). */
function replaceDir(tmp, final) {
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
}

// ---- Debian packages -------------------------------------------------------------------------

/** Downloads the missing .debs into the cache and extracts each once; returns package → root dir. */
function debs() {
  const t = performance.now();
  const debDir = join(CACHE, 'debs');
  fs.mkdirSync(debDir, { recursive: true });
  const find = (pkg) => fs.readdirSync(debDir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('_amd64.deb'));
  const missing = DEBS.filter((p) => !find(p));
  if (missing.length) {
    log(`apt-get download ${missing.join(' ')}`);
    // As root, apt would drop to the _apt user, which cannot write here; there is nothing to protect.
    const sandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
    const download = () => run('apt-get', [...sandbox, 'download', ...missing.map((p) => `${p}:amd64`)], { cwd: debDir });
    try {
      download();
    } catch (e) {
      // A new machine may have no package lists yet: as root, fetch them once and try again.
      if (process.getuid?.() !== 0) throw new Error(`${e.message}\n(if apt cannot find a package, run \`apt-get update\` once as root)`);
      log('apt-get download failed; running apt-get update and retrying');
      run('apt-get', ['update', '-qq']);
      download();
    }
  }
  const roots = {};
  const versions = {};
  for (const pkg of DEBS) {
    const file = find(pkg);
    if (!file) throw new Error(`apt-get download ${pkg} left no ${pkg}_*_amd64.deb in ${debDir}`);
    versions[pkg] = decodeURIComponent(file.split('_')[1]);
    const dir = join(CACHE, 'x', file.replace(/\.deb$/, ''));
    if (!fs.existsSync(dir)) {
      const tmp = `${dir}.tmp${process.pid}`;
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.mkdirSync(tmp, { recursive: true });
      run('dpkg-deb', ['-x', join(debDir, file), tmp]);
      fs.renameSync(tmp, dir);
    }
    roots[pkg] = dir;
  }
  log(`debs: ${DEBS.map((p) => `${p} ${versions[p]}`).join(', ')}${missing.length ? '' : ' (cached)'} [${ms(t)}]`);
  return { roots, versions };
}

// ---- the stripped node -----------------------------------------------------------------------

/** The running node (it also makes the SEA blob, so the two always match), stripped; cached. */
function strippedNode(tools) {
  const t = performance.now();
  const src = fs.realpathSync(process.execPath);
  const st = fs.statSync(src);
  const key = sha256(src, process.version, String(st.size), String(st.mtimeMs), tools.strip).slice(0, 16);
  const dest = join(CACHE, 'node', `node-${process.version}-${key}`);
  if (fs.existsSync(dest)) {
    log(`node ${process.version} stripped: ${mb(fs.statSync(dest).size)} (cached)`);
    return { path: dest, key };
  }
  const fuses = fs.readFileSync(src).toString('latin1').split(`${FUSE}:`).length - 1;
  if (fuses !== 1) throw new Error(`${src} has ${fuses} SEA fuses (${FUSE}); need an official Node >= 20 build`);
  fs.rmSync(dirname(dest), { recursive: true, force: true }); // one node cached, not one per node ever used
  fs.mkdirSync(dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp${process.pid}`;
  fs.copyFileSync(src, tmp);
  tools.run('strip', ['--strip-all', tmp]);
  fs.renameSync(tmp, dest);
  log(`node ${process.version} stripped: ${mb(st.size)} -> ${mb(fs.statSync(dest).size)} [${ms(t)}]`);
  return { path: dest, key };
}

// ---- the server as one CommonJS file ---------------------------------------------------------

/** esbuild: the SEA main script (CommonJS: Node 20 runs nothing else as a SEA main). */
async function seaScript() {
  const t = performance.now();
  const result = await build({
    ...serverBuild,
    outfile: join(CACHE, 'sea', 'main.cjs'),
    write: false,
    format: 'cjs',
    define: { ...serverBuild.define, 'import.meta.url': '__rcImportMetaUrl' },
    // version.ts and dockerfiles/bundle.ts look for package.json from import.meta.url; in the SEA
    // they start from the executable's path (and fall back to their defaults).
    banner: { js: 'var __rcImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    plugins: [
      ...serverBuild.plugins,
      {
        name: 'runtime-client-sea',
        setup(b) {
          // The SEA's require() loads builtins only: node-pty comes from lib/node_modules.
          b.onResolve({ filter: /^node-pty$/ }, () => ({ path: join(root, 'bundle', 'node-pty-shim.cjs') }));
          // Optional dependencies that ws and debug try inside try/catch. Resolved here to "not
          // installed", as they are in the plain build, instead of a SEA warning on every start.
          b.onResolve({ filter: /^(bufferutil|utf-8-validate|supports-color)$/ }, (a) => ({ path: a.path, namespace: 'absent' }));
          b.onLoad({ filter: /.*/, namespace: 'absent' }, (a) => ({
            contents: `throw Object.assign(new Error("Cannot find module '${a.path}'"), { code: 'MODULE_NOT_FOUND' });`,
            loader: 'js',
          }));
        },
      },
    ],
  });
  const code = result.outputFiles[0].contents;
  log(`server.cjs: ${mb(code.length)} [esbuild ${ms(t)}]`);
  return code;
}

// ---- bin/runtime-client ----------------------------------------------------------------------

/**
 * The SEA: blob from `node --experimental-sea-config`, postject into the stripped node, then
 * patchelf. The order matters: postject (LIEF) rewriting a binary patchelf has already changed
 * leaves a broken dynamic section ("error while loading shared libraries: TMCloneTable"), while
 * patchelf after postject keeps the injected note segment, which is how the blob is found.
 */
function seaBinary(node, script, tools) {
  const t = performance.now();
  const dir = join(CACHE, 'sea');
  fs.mkdirSync(dir, { recursive: true });
  const key = sha256(RECIPE, node.key, script, tools.patchelf, POSTJECT_VERSION, INTERP, RPATH);
  const bin = join(dir, 'runtime-client');
  const keyFile = join(dir, 'runtime-client.key');
  if (fs.existsSync(bin) && fs.existsSync(keyFile) && fs.readFileSync(keyFile, 'utf8') === key) {
    log(`bin/runtime-client: unchanged (cached)`);
    return bin;
  }
  fs.writeFileSync(join(dir, 'main.cjs'), script);
  const config = { main: 'main.cjs', output: 'sea-prep.blob', disableExperimentalSEAWarning: true, useCodeCache: true };
  fs.writeFileSync(join(dir, 'sea-config.json'), JSON.stringify(config, null, 2) + '\n');
  // The V8 code cache (~15 ms faster start) differs on every run unless V8's random seed is
  // fixed; with it the binary, and so the manifest digest, is reproducible. (--hash-seed would
  // make the cache rejected at run time: "Code cache data rejected". So would running the
  // binary with V8 flags, e.g. NODE_OPTIONS=--max-semi-space-size=2, that this node lacks.)
  run(process.execPath, ['--random-seed=1', '--experimental-sea-config', 'sea-config.json'], { cwd: dir });
  const tmp = `${bin}.tmp${process.pid}`;
  fs.copyFileSync(node.path, tmp);
  run(process.execPath, [POSTJECT_CLI, tmp, 'NODE_SEA_BLOB', join(dir, 'sea-prep.blob'), '--sentinel-fuse', FUSE]);
  tools.run('patchelf', ['--set-interpreter', INTERP, '--set-rpath', RPATH, '--force-rpath', tmp]);
  const elf = readElf(tmp);
  if (elf?.interp !== INTERP || elf.rpath !== RPATH) throw new Error(`patchelf did not take: ${JSON.stringify(elf)}`);
  fs.chmodSync(tmp, 0o755);
  fs.renameSync(tmp, bin);
  fs.writeFileSync(keyFile, key);
  log(`bin/runtime-client: blob + postject + patchelf: ${mb(fs.statSync(bin).size)} [${ms(t)}]`);
  return bin;
}

// ---- lib/ --------------------------------------------------------------------------------------

/** The DT_NEEDED closure of `elfs`, found in the Debian packages' library directories. */
function sharedLibraries(elfs, roots) {
  const dirs = ['libc6', 'libstdc++6', 'libgcc-s1'].flatMap((p) =>
    ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu'].map((d) => join(roots[p], d)).filter((d) => fs.existsSync(d)),
  );
  const found = new Map();
  const queue = ['ld-linux-x86-64.so.2', ...elfs.flatMap((f) => readElf(f).needed)];
  while (queue.length) {
    const name = queue.shift();
    if (found.has(name)) continue;
    const path = dirs.map((d) => join(d, name)).find((p) => fs.existsSync(p));
    if (!path) throw new Error(`no ${name} in ${dirs.join(', ')}`);
    found.set(name, path);
    queue.push(...readElf(path).needed);
  }
  return found;
}

/** node-pty's JS files that Linux loads: the require() closure of lib/index.js, minus Windows. */
function nodePtyFiles() {
  const files = new Set();
  const queue = ['lib/index.js'];
  while (queue.length) {
    const rel = queue.shift();
    if (files.has(rel)) continue;
    files.add(rel);
    const text = fs.readFileSync(join(NODE_PTY, rel), 'utf8');
    for (const [, spec] of text.matchAll(/require\(["'](\.{1,2}\/[^"']+)["']\)/g)) {
      const target = join(dirname(rel), spec).replace(/(\.js)?$/, '.js');
      if (!/windows|conpty|conout/i.test(target)) queue.push(target);
    }
  }
  return [...files];
}

// ---- manifest ----------------------------------------------------------------------------------

/** Every regular file under `dir`, relative, sorted (by code unit). */
function listFiles(dir, base = dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), base) : [relative(base, join(dir, e.name))]))
    .sort();
}

/**
 * sha256 over every file but manifest.json, sorted by relative path: for each, the path, the
 * executable bit and the size (NUL-separated), then the content. test/bundle recomputes it.
 */
function digestOf(dir) {
  const h = createHash('sha256');
  const files = listFiles(dir).filter((f) => f !== 'manifest.json');
  for (const f of files) {
    const st = fs.statSync(join(dir, f));
    h.update(`${f}\0${st.mode & 0o111 ? 'x' : '-'}\0${st.size}\0`);
    h.update(fs.readFileSync(join(dir, f)));
  }
  return { digest: h.digest('hex'), files };
}

// ---- main --------------------------------------------------------------------------------------

async function main() {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`the bundle is built on linux x64, not ${process.platform} ${process.arch}`);
  const { roots, versions } = debs();
  const libbinutils = join(roots.libbinutils, 'usr/lib/x86_64-linux-gnu');
  const tools = {
    patchelf: join(roots.patchelf, 'usr/bin/patchelf'),
    strip: join(roots['binutils-x86-64-linux-gnu'], 'usr/bin/x86_64-linux-gnu-strip'),
    // Build-time tools from the cache; LD_LIBRARY_PATH only for them, for strip's libbfd.
    run: (tool, args) => run(tools[tool], args, { env: { ...process.env, LD_LIBRARY_PATH: libbinutils } }),
  };

  const node = strippedNode(tools);
  const binary = seaBinary(node, await seaScript(), tools);

  const stage = join(DIST, `.runtime-client.stage${process.pid}`);
  try {
    await assemble(stage, { roots, versions, tools, node, binary });
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
  log(`done in ${ms(started)}`);
}

/** dist/runtime-client, made in `stage`, checked, then moved in place; and the tarball. */
async function assemble(stage, { roots, versions, tools, node, binary }) {
  const t = performance.now();
  fs.rmSync(stage, { recursive: true, force: true });
  const put = (rel, src, mode) => {
    const dest = join(stage, rel);
    fs.mkdirSync(dirname(dest), { recursive: true });
    fs.copyFileSync(src, dest);
    fs.chmodSync(dest, mode);
    return dest;
  };
  put('bin/runtime-client', binary, 0o755);
  put('bin/bash', join(roots['bash-static'], 'bin/bash-static'), 0o755);
  put('bin/tini', join(roots.tini, 'usr/bin/tini-static'), 0o755);
  const sessionInit = put('bin/session-init', buildSessionInit(), 0o755);
  put('bin/ipython-driver.py', join(root, 'server', 'ipython', 'driver.py'), 0o644);
  const ptyAddon = put('lib/node_modules/node-pty/build/Release/pty.node', join(NODE_PTY, 'build/Release/pty.node'), 0o755);
  tools.run('strip', ['--strip-unneeded', ptyAddon]);
  put('lib/node_modules/node-pty/package.json', join(NODE_PTY, 'package.json'), 0o644);
  for (const f of nodePtyFiles()) put(`lib/node_modules/node-pty/${f}`, join(NODE_PTY, f), 0o644);
  for (const [name, path] of sharedLibraries([node.path, ptyAddon], roots)) put(`lib/${name}`, path, 0o755);

  // Check it before it replaces the last good one: the loader run explicitly works from anywhere,
  // and a node whose blob is not found would print its own version (v20...), not ours.
  // Nothing on stderr: no "Code cache data rejected", no SEA warning.
  const { NODE_OPTIONS, ...env } = process.env;
  const check = spawnSync(join(stage, 'lib/ld-linux-x86-64.so.2'), [join(stage, 'bin/runtime-client'), '--version'], { encoding: 'utf8', env });
  if (check.status !== 0 || check.stdout.trim() !== version || check.stderr) {
    throw new Error(`bin/runtime-client --version: exit ${check.status}, printed ${JSON.stringify(check.stdout + check.stderr)}; expected ${version}`);
  }

  // session-init must be static (it runs in images without glibc) and must run the shell.
  const initElf = readElf(sessionInit);
  if (!initElf || initElf.interp || initElf.needed.length) throw new Error(`bin/session-init is not a static executable: ${JSON.stringify(initElf)}`);
  const initCheck = spawnSync(sessionInit, ['--', join(stage, 'bin/bash'), '-c', 'exit 7'], { encoding: 'utf8', env });
  if (initCheck.status !== 7 || initCheck.stderr) {
    throw new Error(`bin/session-init -- bin/bash -c 'exit 7': exit ${initCheck.status}, printed ${JSON.stringify(initCheck.stdout + initCheck.stderr)}; expected exit 7`);
  }

  const { digest, files } = digestOf(stage);
  const size = (rel) => files.filter((f) => !rel || f === rel || f.startsWith(`${rel}/`)).reduce((n, f) => n + fs.statSync(join(stage, f)).size, 0);
  const sizes = { total: size('') };
  for (const rel of ['bin/runtime-client', 'bin/bash', 'bin/tini', 'bin/session-init', 'lib']) sizes[rel] = size(rel);
  const manifest = { name: 'runtime-client', version, node: process.version, mount: MOUNT, files: files.length, digest, sizes,
    debs: Object.fromEntries(SHIPPED.map((p) => [p, versions[p]])), tools: Object.fromEntries(TOOLS.map((p) => [p, versions[p]])) };
  const manifestText = JSON.stringify(manifest, null, 2) + '\n';
  fs.writeFileSync(join(stage, 'manifest.json'), manifestText);
  fs.chmodSync(join(stage, 'manifest.json'), 0o644);
  for (const d of [stage, ...listDirs(stage)]) fs.chmodSync(d, 0o755);
  // The same bytes as the bundle in place: leave it alone (a container may have it mounted).
  const current = join(OUT, 'manifest.json');
  if (fs.existsSync(current) && fs.readFileSync(current, 'utf8') === manifestText) fs.rmSync(stage, { recursive: true, force: true });
  else replaceDir(stage, OUT);
  log(`dist/runtime-client: ${files.length + 1} files, ${mb(sizes.total)}, digest ${digest.slice(0, 16)} [${ms(t)}]`);

  const t2 = performance.now();
  // The digest covers every file but the manifest; the tarball holds that too.
  const tarKeyFile = join(CACHE, 'tarball.key');
  const tarKey = sha256(digest, manifestText);
  if (fs.existsSync(TARBALL) && fs.existsSync(tarKeyFile) && fs.readFileSync(tarKeyFile, 'utf8') === tarKey) {
    log(`dist/runtime-client.tar.gz: ${mb(fs.statSync(TARBALL).size)} (unchanged)`);
  } else {
    const tmp = `${TARBALL}.tmp${process.pid}`;
    // Reproducible: sorted names, fixed owner and mtime, no gzip timestamp.
    execFileSync('sh', ['-c', 'tar -C "$1" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - runtime-client | gzip -n -6 > "$2"', 'sh', DIST, tmp]);
    fs.renameSync(tmp, TARBALL);
    fs.writeFileSync(tarKeyFile, tarKey);
    log(`dist/runtime-client.tar.gz: ${mb(fs.statSync(TARBALL).size)} [${ms(t2)}]`);
  }
}

function listDirs(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => [join(dir, e.name), ...listDirs(join(dir, e.name))]);
}

/** One build at a time (test files build the bundle in parallel): a lock directory holding the pid. */
async function withLock(fn) {
  const lock = join(CACHE, 'build.lock');
  fs.mkdirSync(CACHE, { recursive: true });
  const deadline = Date.now() + 15 * 60 * 1000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let holder = 0;
      try {
        holder = Number(fs.readFileSync(join(lock, 'pid'), 'utf8'));
        process.kill(holder, 0);
      } catch {
        if (holder) fs.rmSync(lock, { recursive: true, force: true }); // its builder died
      }
      if (Date.now() > deadline) throw new Error(`another bundle build (pid ${holder}) holds ${lock}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

withLock(main).catch((e) => {
  process.stderr.write(`bundle: ${e.message}\n`);
  process.exit(1);
});
