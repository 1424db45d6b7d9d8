// Stands in for `node-pty` in the single-executable build (bundle/sea.mjs). Inside a Node SEA,
// `require()` only loads builtins, so the real package (JS + the pty.node addon) is loaded from
// the bundle's lib/node_modules through a module-system require made by createRequire.
'use strict';
const { createRequire } = require('node:module');
const { dirname, join } = require('node:path');

function isSea() {
  try {
    return require('node:sea').isSea();
  } catch {
    return false;
  }
}

// <root>/bin/runtime-client -> <root>. (Run through the loader explicitly,
// `<root>/lib/ld-linux-x86-64.so.2 <root>/bin/runtime-client`, execPath is the loader: same root.)
const from = isSea()
  ? join(dirname(dirname(process.execPath)), 'lib', 'node_modules', '/')
  : __filename;
module.exports = createRequire(from)('node-pty');
