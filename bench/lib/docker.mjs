// The docker CLI for the benchmarks: one call, its stdout.
import { spawn } from 'node:child_process';

const DOCKER = process.env.DOCKER || 'docker';

/** Runs the docker CLI (env DOCKER, else `docker`); resolves with its stdout, trimmed. Keys reach it through `env`, never argv. */
export function docker(args, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`docker ${args[0]}: exit ${code}: ${err.trim()}`))));
  });
}
