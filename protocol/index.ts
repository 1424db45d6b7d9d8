// The wire contract shared by server and client: zod schemas and the types inferred from them.
export {
  IGNORED_ARGS,
  MAX_TIMEOUT_SECONDS,
  SESSION_NAME_PATTERN,
  SessionName,
  RunArgs,
  ReadArgs,
  WriteArgs,
  EditArgs,
  ArgsByKind,
  ACTION_KINDS,
  ActionEnvelope,
  ExecuteRequest,
} from './actions.js';
export type { Action, ActionKind, ActionInput } from './actions.js';
export {
  RunMetadata,
  RunObservation,
  ErrorObservation,
  ReadObservation,
  WriteObservation,
  EditObservation,
  Observation,
} from './observations.js';
export { HTTP_STATUS, ErrorBody } from './errors.js';
export type { ErrorCode } from './errors.js';
export { ClientFrame, ServerFrame } from './ws.js';
export { SessionInfo, SessionList, SessionEnded } from './sessions.js';

/** Default port the server listens on. */
export const DEFAULT_PORT = 60000;
