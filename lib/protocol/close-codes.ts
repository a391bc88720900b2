/**
 * The WebSocket close codes the broker uses, and why (protocol.md section 8).
 */
export const CLOSE_CODES = {
  /** The client closed, or the broker closed after an orderly unregister-and-close. */
  normal: 1000,
  /** The broker is shutting down. */
  goingAway: 1001,
  /** A binary frame arrived: the protocol is JSON in text frames only [SB-2-4]. */
  unsupportedData: 1003,
  /** Policy: the bad-frame budget is spent [SB-7-3], a legacy client's register was refused [SB-4.1-4], or authentication failed [SB-4.5-2]. */
  policyViolation: 1008,
  /** A frame over the transport's hard cap (twice `maxMessageBytes`) [SB-9-1]. */
  messageTooBig: 1009,
  /** The broker failed in a way that leaves the connection unusable. */
  internalError: 1011,
  /** The connection's unsent data passed `maxBufferedBytes`: it reads too slowly [SB-8-1]. */
  slowConsumer: 4008,
  /** A connection of the same identity took one of this connection's names over [SB-4.1-6]. */
  takenOver: 4009,
  /** An operator closed the connection through the monitor listener (lib/monitor). */
  kicked: 4010,
  /** Cluster mode: this broker node could not renew its lease on the cluster's names in time; connect again, to any node (protocol.md section 16). */
  clusterLost: 4011,
} as const;

export type CloseCodeName = keyof typeof CLOSE_CODES;
