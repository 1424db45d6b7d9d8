// Every top-level wire shape (a whole body, query or frame), by the name of its JSON Schema file in
// schema/. scripts/protocol-schema.ts writes the files (`npm run schema`) and
// test/protocol/schema.test.ts fails when one is stale. Not part of the package entry: the server
// and the client never need the list, so they never load it.
import * as z from 'zod';
import { AnyAction, ExecuteRequest } from './actions.js';
import { ErrorBody, WIRE_ERROR_CODES, WS_CLOSE } from './errors.js';
import { SessionEnded, SessionInfo, SessionList } from './sessions.js';
import { Alive, ServerInfo } from './health.js';
import { DownloadQuery, ListFilesRequest, ListFilesResult, UploadQuery, UploadResult } from './files.js';
import { Observation } from './observations.js';
import { ConfigureRequest, ConfigureResult } from './configure.js';
import { AttachFrame, AuthFrame, ExecuteFrame, ServerFrame } from './ws.js';

export interface WireShape {
  schema: z.ZodType;
  /** Where the shape travels, for people: the route and which part of it. */
  description: string;
}

const closeCodes = Object.entries(WS_CLOSE)
  .map(([name, code]) => `${code} (${name})`)
  .join(', ');

/**
 * The file name (without `.json`) of each shape and the shape. Where the server checks a shape in two
 * steps (an action's envelope, then its args by kind, so that an error names the field), the schema
 * here states both steps at once.
 */
export const WIRE_SHAPES: Readonly<Record<string, WireShape>> = {
  ExecuteRequest: {
    schema: ExecuteRequest.extend({ action: AnyAction }),
    description: 'POST /execute_action: the JSON body. `id` may also come as the X-Request-ID header.',
  },
  Observation: {
    schema: Observation,
    description: 'POST /execute_action and GET /actions/{id}: the answer (200), also for an action that failed (an `error` observation).',
  },
  ErrorBody: {
    schema: ErrorBody,
    description: `Every HTTP answer that is not a success, with the status of its code. The codes on the wire:\n${Object.entries(WIRE_ERROR_CODES)
      .map(([code, meaning]) => `${code}: ${meaning}`)
      .join('\n')}`,
  },
  Alive: { schema: Alive, description: 'GET /alive (no key needed): 200 with status "ok", 503 with status "not initialized".' },
  ServerInfo: { schema: ServerInfo, description: 'GET /server_info: the answer.' },
  SessionList: { schema: SessionList, description: 'GET /sessions: the answer.' },
  SessionEnded: { schema: SessionEnded, description: 'DELETE /sessions/{name}: the answer.' },
  SessionInfo: { schema: SessionInfo, description: 'POST /sessions/{name}/reset: the answer, once the fresh session is ready.' },
  UploadQuery: { schema: UploadQuery, description: 'POST /upload_file: the query string; the body is multipart/form-data with one field `file`.' },
  UploadResult: { schema: UploadResult, description: 'POST /upload_file: the answer.' },
  DownloadQuery: { schema: DownloadQuery, description: 'GET /download_files: the query string; the answer is the archive itself.' },
  ListFilesRequest: { schema: ListFilesRequest, description: 'POST /list_files: the JSON body.' },
  ListFilesResult: { schema: ListFilesResult, description: 'POST /list_files: the answer.' },
  ConfigureRequest: {
    schema: ConfigureRequest,
    description:
      'POST /configure (only on a server started with --await-config; the start key in X-Session-API-Key): the JSON body. 409 already_configured after the first; every other route answers 503 not_configured before it.',
  },
  ConfigureResult: { schema: ConfigureResult, description: 'POST /configure: the answer (200), once the default session is ready; the new key is required from then on.' },
  ClientFrame: {
    schema: z.discriminatedUnion('type', [AuthFrame, ExecuteFrame.extend({ action: AnyAction }), AttachFrame]),
    description: `GET /ws: a text frame from the client. Close codes from the server: ${closeCodes}.`,
  },
  ServerFrame: {
    schema: ServerFrame,
    description: `GET /ws: a text frame from the server. Per action: output frames (seq from 0), at most an output_gap error where chunks were dropped, then one observation frame. Close codes: ${closeCodes}.`,
  },
};
