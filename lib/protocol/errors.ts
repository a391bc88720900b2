/**
 * The closed set of error codes the broker puts in `error` frames (protocol.md section 7).
 * Each code carries its one-sentence meaning and whether it spends the connection's error budget.
 * A test keeps this table and protocol.md's table identical: add a code in both or in neither.
 */
export interface ErrorCodeInfo {
  /** One sentence: what happened. */
  readonly meaning: string;
  /** True when the frame that caused it counts against the connection's bad-frame budget [SB-7-3]. */
  readonly budget: boolean;
}

export const ERROR_CODES = {
  bad_frame: {
    meaning: 'The frame is not JSON, or does not match the schema of its action (the error names the field).',
    budget: true,
  },
  unknown_action: { meaning: 'The frame has an action the broker does not know.', budget: true },
  too_large: { meaning: 'The frame is larger than the broker accepts.', budget: true },
  not_registered: {
    meaning: 'The connection must hold a name for this action, or does not hold the name it named.',
    budget: true,
  },
  name_taken: { meaning: 'Another live connection holds the name.', budget: false },
  name_conflict: {
    meaning: 'The name is registered in the other mode: shared (a pool) and exclusive registrations never mix.',
    budget: false,
  },
  duplicate_ack: {
    meaning: 'The sender already has a pending request with this correlation id; the new send was refused.',
    budget: false,
  },
  unauthorized: {
    meaning: 'The connection presented no valid token where one is required; it is closed.',
    budget: false,
  },
  forbidden: {
    meaning:
      'The connection\'s identity may not do this: register this name, send to it, subscribe or publish to this topic, or authenticate again.',
    budget: false,
  },
  unknown_ack: {
    meaning: 'The answer names no request this connection received and may still answer; it was dropped.',
    budget: false,
  },
  limit_exceeded: { meaning: 'The action would exceed one of the broker\'s limits (the error names it).', budget: false },
  no_responders: { meaning: 'None of the destinations of the request is registered.', budget: false },
  timeout: { meaning: 'The request reached its deadline before any destination answered.', budget: false },
  responder_gone: {
    meaning: 'Every destination that could still answer the request disconnected or unregistered.',
    budget: false,
  },
  cancelled: { meaning: 'The sender cancelled the request.', budget: false },
  expired: { meaning: 'A message queued for an offline name was dropped at its age limit before the name came back.', budget: false },
  mailbox_full: { meaning: 'The mailbox of an offline name is full: the message was not queued.', budget: false },
  shutting_down: {
    meaning: 'The broker is shutting down: the request was refused, or ended before an answer came.',
    budget: false,
  },
  internal_error: { meaning: 'The broker failed while handling the frame; the connection is still usable.', budget: false },
  unavailable: {
    meaning: 'Cluster mode: this broker node cannot reach the cluster\'s shared state or holds no lease on it; nothing was done.',
    budget: false,
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

/** The codes that end a request: an `error` frame with one of them and the request's `ack` is its outcome. */
export const OUTCOME_CODES = ['no_responders', 'timeout', 'responder_gone', 'cancelled', 'shutting_down'] as const satisfies readonly ErrorCode[];
