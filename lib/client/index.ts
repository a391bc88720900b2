/**
 * The browser-safe client core: everything except a WebSocket implementation, which the caller passes
 * as `options.WebSocket` (or which `globalThis.WebSocket` provides). Most programs import an entry point
 * instead: `node.ts` (injects the `ws` package) or `browser.ts` (uses the browser's WebSocket).
 * This directory imports nothing from `node:*` and not `ws`; test/client/imports.test.ts keeps it so.
 */
export {
  Client,
  type ClientEvents,
  type ClientStatus,
  type Destination,
  type GatherOptions,
  type HandleOptions,
  type PublishOptions,
  type RequestOptions,
  type SendOptions,
} from './client.js';
export { CLIENT_DEFAULTS, type ClientOptions, type NameOptions, type NameSpec } from './options.js';
export { DEFAULT_RECONNECT, backoffDelay, type ReconnectOptions } from './backoff.js';
export {
  CLIENT_ERROR_CODES,
  SwitchboardError,
  type ClientErrorCode,
  type SwitchboardErrorCode,
  type SwitchboardErrorDetails,
} from './errors.js';
export type { GatherResult, RequestResult, SendReport } from './requests.js';
export type { Handler, MessageContext, TopicContext, TopicHandler } from './responder.js';
export type { AnswerStream, StreamPart } from './stream.js';
export type { WebSocketConstructor, WebSocketLike } from './connection.js';
export {
  defineService,
  type CallOptions,
  type MethodSpec,
  type ServeOptions,
  type ServiceContract,
  type ServiceImplementation,
  type ServiceStub,
} from './services.js';
export { Type, type ServiceInfo } from '../protocol/index.js';
export type { Trace } from '../protocol/index.js';
export { WSMsgBroker, type WSMsgBrokerEvents, type WSMsgBrokerOptions, type WSMsgBrokerResponse } from './compat.js';
