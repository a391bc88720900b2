/**
 * The broker's limits and their defaults (protocol.md section 9). Every map, queue and timer the broker
 * keeps per connection or per request is bounded by one of these.
 */
export interface Limits {
  /** Largest text frame accepted, in bytes; larger gets `too_large`; over twice this the transport closes 1009. */
  maxMessageBytes: number;
  /** How deep arrays and objects may nest in a message or answer; deeper is refused with `bad_frame`. */
  maxDepth: number;
  /** Names one connection may hold at once. */
  maxNamesPerConnection: number;
  /** Destinations in one `send`. */
  maxDestinations: number;
  /** Requests one connection may have pending at once. */
  maxPendingPerConnection: number;
  /** Requests pending in the whole broker at once. */
  maxPendingTotal: number;
  /** The deadline of a request that asks for none, in milliseconds. */
  defaultTimeoutMs: number;
  /** The longest deadline a request may ask for, in milliseconds. */
  maxTimeoutMs: number;
  /** Bad frames tolerated per connection within `badFrameWindowMs` before closing with 1008. */
  badFrameBudget: number;
  /** The window of the bad-frame budget, in milliseconds. */
  badFrameWindowMs: number;
  /** Fragments one message may arrive in; more closes the connection with 1008 (ws's policy close). */
  maxFragments: number;
  /** Bytes waiting to be written to one connection; more closes it as a slow consumer (4008). */
  maxBufferedBytes: number;
  /** Open connections in the whole broker; more are refused with HTTP 503 before the upgrade. */
  maxConnections: number;
  /** Open connections from one remote address; more are refused with HTTP 429 before the upgrade. */
  maxConnectionsPerAddress: number;
  /** Interval of the broker's pings, in milliseconds; a peer that misses one is dropped at the next. */
  heartbeatMs: number;
  /** When authentication is required, how long a connection may take to authenticate, in milliseconds. */
  authTimeoutMs: number;
  /** Subscriptions one connection may hold. */
  maxSubscriptionsPerConnection: number;
  /** Requests one pool member may have in flight before round-robin skips it. */
  maxInFlightPerMember: number;
  /** Messages queued for one offline durable name. */
  maxMailboxSize: number;
  /** Bytes of message bodies queued for one offline durable name; more is refused with `mailbox_full`. */
  maxMailboxBytes: number;
  /** Bytes of message bodies queued in all mailboxes of the broker; more is refused with `limit_exceeded`. */
  maxMailboxBytesTotal: number;
  /** How long a message waits in a mailbox, in milliseconds (requests wait at most until their deadline). */
  maxMailboxAgeMs: number;
  /** Offline durable names with a mailbox, in the whole broker. */
  maxMailboxes: number;
  /** Parts of a streaming request one receiver may send before its sender pulls more (protocol.md section 13). */
  streamWindow: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  maxDepth: 512,
  maxNamesPerConnection: 16,
  maxDestinations: 64,
  maxPendingPerConnection: 1024,
  maxPendingTotal: 100_000,
  defaultTimeoutMs: 30_000,
  maxTimeoutMs: 300_000,
  badFrameBudget: 20,
  badFrameWindowMs: 10_000,
  maxFragments: 4096,
  maxBufferedBytes: 8 * 1024 * 1024,
  maxConnections: 20_000,
  maxConnectionsPerAddress: 1000,
  heartbeatMs: 30_000,
  authTimeoutMs: 5000,
  maxSubscriptionsPerConnection: 256,
  maxInFlightPerMember: 64,
  maxMailboxSize: 1000,
  maxMailboxBytes: 8 * 1024 * 1024,
  maxMailboxBytesTotal: 64 * 1024 * 1024,
  maxMailboxAgeMs: 3_600_000,
  maxMailboxes: 10_000,
  streamWindow: 16,
});
