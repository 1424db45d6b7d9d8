// The floor of any forwarder on node:http: a keep-alive agent, headers as they came, bodies piped
// both ways, no checks. Imported, startForwarder runs one in this process; run as a script
// (`node bench/lib/forwarder.mjs URL`), it runs one in a process of its own and prints its port.
import http from 'node:http';
import { fileURLToPath } from 'node:url';

/** Listens on a free port of 127.0.0.1 and forwards every request to `targetUrl`; resolves with its URL. */
export async function startForwarder(targetUrl) {
  const target = new URL(targetUrl);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const upstream = http.request({ agent, hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

/** This file, to run as a forwarder process of its own: `node FORWARDER_SCRIPT URL`. */
export const FORWARDER_SCRIPT = fileURLToPath(import.meta.url);

if (process.argv[1] === FORWARDER_SCRIPT) console.log(new URL(await startForwarder(process.argv[2])).port);
