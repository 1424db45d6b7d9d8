// `echo hi` (POST /execute_action) over several paths to one runtime, the way the control-plane
// benchmarks compare its proxy with its direct URL and a bare forwarder: one keep-alive
// connection, 100 warm-up requests per path, then rounds that each go over every path in another
// order, so that drift hits all paths alike.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

/** The `p` quantile (0..1) of `xs`, the nearest rank below. */
export const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))];

/** `rounds` requests over each of `paths` (base URLs) with the runtime's `sessionApiKey`; resolves with each path's times in ms, in the order of `paths`. */
export async function echoPaths(sessionApiKey, paths, rounds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const body = JSON.stringify({ action: { action: 'run', args: { command: 'echo hi' } } });
  const echo = (base) =>
    new Promise((resolve, reject) => {
      const u = new URL(`${base}/execute_action`);
      const began = performance.now();
      const headers = { 'x-session-api-key': sessionApiKey, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          const took = performance.now() - began;
          if (res.statusCode !== 200 || !text.includes('"hi\\n"')) reject(new Error(`echo hi via ${base}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
          else resolve(took);
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  try {
    for (let i = 0; i < 100; i++) for (const path of paths) await echo(path);
    const times = paths.map(() => []);
    for (let i = 0; i < rounds; i++) {
      for (let j = 0; j < paths.length; j++) {
        const k = (i + j) % paths.length;
        times[k].push(await echo(paths[k]));
      }
    }
    return times;
  } finally {
    agent.destroy();
  }
}
