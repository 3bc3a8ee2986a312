export { createEdgeHubUpstream, NotConnectedError } from './upstream';
export type { EdgeHubConnectionState, EdgeHubUpstream, EdgeHubUpstreamOptions, MethodHandler, MethodResult } from './upstream';
export { detectEdgeHubEndpoint, missingWorkloadVariables } from './environment';
export type { EdgeHubConnectionMode, EdgeHubEndpoint } from './environment';
export { SECURITY_OUTPUT, toSdkMessage } from './message';
export { backoffDelay, DEFAULT_BACKOFF } from './backoff';
export type { BackoffOptions } from './backoff';
