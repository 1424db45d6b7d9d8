#!/usr/bin/env -S node --max-semi-space-size=2
// `runtime-client` on the host: the host commands, and serve/probe handed to the server package,
// so `runtime-client --port 60000` serves from a checkout or an install as it does in a sandbox.
import { runCli } from './index.js';

runCli(process.argv.slice(2)).then((code) => code !== undefined && process.exit(code));
