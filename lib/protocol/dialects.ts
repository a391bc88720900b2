/**
 * The two dialects spoken on one port and path (protocol.md section 2).
 */
import type { BrokerAction } from './broker-frames.js';

/** [SB-2-2] The WebSocket subprotocol that selects the extended dialect. */
export const SUBPROTOCOL = 'switchboard.v1' as const;

export type Dialect = 'legacy' | 'extended';

/** [SB-2-3] The only actions a legacy client is ever sent: those of wsmsgbroker 1.7.2. */
export const LEGACY_BROKER_ACTIONS: ReadonlySet<BrokerAction> = new Set<BrokerAction>([
  'registered',
  'unregistered',
  'message',
  'answer',
]);

/**
 * The edition of protocol.md this code implements (section 11): 2 added `ref` on control frames, `hello`,
 * and the rules of the second edition; 3 added wildcard subscriptions, streaming answers, services and
 * trace context. A broker of edition 1 answers `hello` with `unknown_action`.
 */
export const EDITION = 3;

/**
 * The features a broker announces in its `hello` answer (protocol.md section 11), so that a client can
 * use what the broker it reached supports. New features are added here and in section 11 together.
 */
export const FEATURES = [
  'ref',
  'auth',
  'topics',
  'broadcast',
  'gather',
  'cancel',
  'pools',
  'mailboxes',
  'events',
  'takeover',
  'wildcards',
  'trace',
  'services',
  'streams',
] as const;
export type Feature = (typeof FEATURES)[number];
