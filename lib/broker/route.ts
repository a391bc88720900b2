/**
 * The last step of `send`, `publish` and `broadcast` (protocol.md sections 4.3, 4.7, 6): write the
 * message to its receivers, queue it for offline durable names, and open the request when it has an
 * `ack`. Everything that could refuse the send has been checked before: nothing here refuses, except a
 * request that reaches no one ([SB-6-6]).
 */
import { encodeMessage } from '../protocol/index.js';
import type { BrokerContext } from './context.js';
import type { Delivery, Payload, Target } from './pending.js';
import type { ErrorDetails, Session } from './session.js';

export interface RouteOptions {
  readonly payload: Payload;
  readonly ack?: string;
  readonly ref?: string;
  readonly timeoutMs: number;
  readonly gather: boolean;
  readonly retry: boolean;
}

export function route(
  ctx: BrokerContext,
  sender: Session,
  targets: Target<Session>[],
  queued: string[],
  options: RouteOptions,
): void {
  const { payload, ack } = options;
  const now = Date.now();
  if (ack === undefined) {
    for (const target of targets) {
      target.peer.write('message', encodeMessage(payload.body, payload.from, undefined, payload.suffix + (target.suffix ?? '')));
    }
    for (const name of queued) ctx.mailboxes.enqueue(name, { payload, sender, ref: options.ref, queuedAt: now });
    return;
  }
  if (targets.length === 0 && queued.length === 0) {
    const ids: ErrorDetails = { ack };
    if (options.ref !== undefined) ids.ref = options.ref;
    sender.error('no_responders', 'no destination of the request is registered', ids); // [SB-6-6]
    return;
  }
  const requestOptions = {
    answersOnly: sender.dialect === 'legacy',
    gather: options.gather,
    retry: options.retry,
    timeoutMs: options.timeoutMs,
    payload,
  };
  const { request, deliveries } = ctx.pending.add(sender, ack, requestOptions, targets, queued);
  for (const delivery of deliveries) writeDelivery(delivery);
  queued.forEach((name, i) => {
    ctx.mailboxes.enqueue(name, { payload, sender, queuedAt: now, request, slot: targets.length + i }); // [SB-6.3-1]
  });
}

/** Write the `message` frame of one delivery of a request. */
export function writeDelivery(delivery: Delivery<Session>): void {
  const { payload } = delivery.request;
  const suffix = payload.suffix + (delivery.suffix ?? '');
  delivery.receiver.write('message', encodeMessage(payload.body, payload.from, delivery.id, suffix));
}

/**
 * The encoded body of a frame's message: its raw text when the decode split it off (forwarded as the
 * sender wrote it), else the parsed value serialised once; undefined when that fails ([SB-4.3-5]).
 */
export function bodyOf(message: unknown, raw: string | undefined): string | undefined {
  if (raw !== undefined) return raw;
  try {
    return JSON.stringify(message);
  } catch {
    return undefined;
  }
}
