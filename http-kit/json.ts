// JSON from the network (request bodies, WebSocket frames), refused before parsing when it nests
// too deep: JSON.parse and the schemas after it take time and memory per level, and a 10 MB
// body of `[[[[...` froze the server for seconds.
import { HttpKitError } from './errors.js';

/**
 * The index of the bracket that first nests deeper than `maxDepth`, or -1. One linear pass;
 * brackets inside strings do not count. Says nothing about validity: JSON.parse judges that.
 */
export function depthOverflowAt(text: string, maxDepth: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = stringEnd(text, i);
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return -1;
}

/**
 * The index of the quote that closes the string opened at `open` (or the text's end). Jumps from
 * quote to quote with indexOf, which scans natively: a 9 MB command is one string, and walking it
 * a character at a time in JavaScript took ~25 ms of the event loop.
 */
function stringEnd(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at === -1) return text.length;
    let slashes = 0;
    while (text.charCodeAt(at - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return at; // an odd run of backslashes escapes this quote
  }
}

/**
 * Parses `text`; an HttpKitError `bad_request` for invalid JSON or arrays and objects nested more
 * than `maxDepth` levels. `what` names the text in the message (`request body`, `frame`).
 */
export function parseJson(text: string, what: string, maxDepth: number): unknown {
  const at = depthOverflowAt(text, maxDepth);
  if (at >= 0) {
    throw new HttpKitError('bad_request', `the ${what} nests arrays and objects more than ${maxDepth} levels deep (at character ${at})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpKitError('bad_request', `the ${what} is not valid JSON: ${(e as Error).message}`);
  }
}
