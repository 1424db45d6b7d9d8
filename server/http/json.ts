// JSON from the network (request bodies, WebSocket frames), refused before parsing when it nests
// too deep (@runtime-client/http-kit's check), as ApiError 400 `bad_request`.
import { HttpKitError, parseJson as parseJsonText } from '@runtime-client/http-kit';
import { ApiError } from '../errors.js';

export { depthOverflowAt } from '@runtime-client/http-kit';

/** Arrays and objects nested deeper than this are refused. Real requests nest 4 or 5 levels. */
export const MAX_JSON_DEPTH = 100;

/** Parses `text`; a 400 `bad_request` for invalid JSON or nesting past MAX_JSON_DEPTH. `what` names it in the message. */
export function parseJson(text: string, what: string): unknown {
  try {
    return parseJsonText(text, what, MAX_JSON_DEPTH);
  } catch (e) {
    throw e instanceof HttpKitError ? new ApiError(e.code, e.message) : e;
  }
}
