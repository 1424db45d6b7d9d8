// The wire contract shared by server and client: zod schemas and the types inferred from them.
// Pure: no node: modules, no I/O (test/protocol/purity.test.ts). Their JSON Schema is in schema/.
export {
  IGNORED_ARGS,
  MAX_TIMEOUT_SECONDS,
  SESSION_NAME_PATTERN,
  SessionName,
  RunArgs,
  ReadArgs,
  WriteArgs,
  EditArgs,
  EDIT_COMMANDS,
  RunIpythonArgs,
  UNSUPPORTED_OPENHANDS_KINDS,
  ActionKind,
  ArgsByKind,
  ACTION_KINDS,
  ActionEnvelope,
  RunAction,
  ReadAction,
  WriteAction,
  EditAction,
  RunIpythonAction,
  AnyAction,
  ActionId,
  ActionInput,
  ExecuteRequest,
} from './actions.js';
export type { Action } from './actions.js';
export {
  ObservationMeta,
  RunMeta,
  ReadMeta,
  RunMetadata,
  RunObservation,
  IpythonMeta,
  IpythonObservation,
  ErrorObservation,
  ReadObservation,
  WriteObservation,
  EditObservation,
  OBSERVATION_KINDS,
  OtherObservation,
  Observation,
} from './observations.js';
export { ErrorCode, HTTP_STATUS, OUTPUT_GAP, WIRE_ERROR_CODES, WireError, ErrorBody, WS_CLOSE } from './errors.js';
export type { WireErrorCode } from './errors.js';
export {
  AuthFrame,
  ExecuteFrame,
  AttachFrame,
  ClientFrame,
  OutputFrame,
  ObservationFrame,
  OutputGap,
  OutputGapError,
  ErrorFrame,
  OutputGapFrame,
  ServerFrame,
} from './ws.js';
export { SessionInfo, SessionList, SessionEnded } from './sessions.js';
export { AliveReady, AliveStarting, Alive, Resources, ServerInfo } from './health.js';
export { ConfigureKey, ConfigureRequest, ConfigureResult, ENV_NAME_PATTERN, MAX_USER_ID, USERNAME_PATTERN, isUserId, parseUserId } from './configure.js';
export { ArchiveFormat, UploadQuery, UploadResult, DownloadQuery, ListFilesRequest, ListFilesResult } from './files.js';

export {
  RUNTIME_API_ERRORS,
  ApiSessionId,
  RuntimeId,
  PodStatus,
  RuntimeStatus,
  StartRequest,
  StartResponse,
  SessionResponse,
  RuntimeResponse,
  RuntimeListEntry,
  ListQuery,
  ListResponse,
  RuntimeRequest,
  RuntimeStatusResponse,
  RenewRequest,
  RenewResponse,
  ApiHealth,
  RegistryPrefixResponse,
  ImageExistsResponse,
  BuildResponse,
  BuildStatus,
  BuildStatusResponse,
} from './runtime-api.js';
export type { RuntimeApiErrorCode } from './runtime-api.js';

/** Default port the server listens on. */
export const DEFAULT_PORT = 60000;
