/**
 * The two dialects spoken on one port and path (protocol.md section 2).
 */
import type { BrokerAction } from './broker-frames.js';

/** [SB-2-2] The WebSocket subprotocol that selects the extended dialect. */
export const SUBPROTOCOL = 'switchboard.v1';

export type Dialect = 'legacy' | 'extended';

/** [SB-2-3] The only actions a legacy client is ever sent: those of wsmsgbroker 1.7.2. */
export const LEGACY_BROKER_ACTIONS: ReadonlySet<BrokerAction> = new Set<BrokerAction>([
  'registered',
  'unregistered',
  'message',
  'answer',
]);
