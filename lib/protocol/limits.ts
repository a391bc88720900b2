/**
 * The broker's limits and their defaults (protocol.md section 9). Every map, queue and timer the broker
 * keeps per connection or per request is bounded by one of these.
 */
export interface Limits {
  /** Largest text frame accepted, in bytes; larger gets `too_large`; over twice this the transport closes 1009. */
  maxMessageBytes: number;
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
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  maxNamesPerConnection: 16,
  maxDestinations: 64,
  maxPendingPerConnection: 1024,
  maxPendingTotal: 100_000,
  defaultTimeoutMs: 30_000,
  maxTimeoutMs: 300_000,
  badFrameBudget: 20,
  badFrameWindowMs: 10_000,
});
