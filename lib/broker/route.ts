/**
 * The last step of `send`, `publish` and `broadcast` (protocol.md sections 4.3, 4.7, 6): write the
 * message to its receivers, and open the request when it has an `ack`, with a slot waiting for each
 * offline durable name it was queued for (handlers/send.ts queued it first). Everything that could refuse
 * the send has been checked before: nothing here refuses, except a request that reaches no one ([SB-6-6]).
 */
import { encodeMessage } from '../protocol/wire.js';
import type { BrokerContext } from './context.js';
import type { QueuedFor } from './mailbox.js';
import type { Delivery, Payload, Target } from './pending.js';
import type { ErrorDetails, Session } from './session.js';

export interface RouteOptions {
  readonly payload: Payload;
  readonly ack?: string;
  readonly ref?: string;
  readonly timeoutMs: number;
  readonly gather: boolean;
  readonly retry: boolean;
  /** A streaming request's window ([SB-13-1]); 0 or absent for none. */
  readonly window?: number;
}

/** Where a message goes: receivers now, mailboxes of offline durable names, and a request's slots. */
export interface Plan {
  readonly targets: Target<Session>[];
  /** Offline durable names it was queued for, each with its slot in the request. */
  readonly queued: readonly QueuedFor[];
  /** The destination names reached, in the order of `dest` (a request's slots); default: one per target. */
  readonly slotNames?: string[];
}

export function route(ctx: BrokerContext, sender: Session, plan: Plan, options: RouteOptions): void {
  const { payload, ack } = options;
  const { targets, queued } = plan;
  if (ack === undefined) {
    // Receivers without fields of their own get one encoded frame, shared: a copy per receiver is memory
    // a fan-out of large messages cannot afford.
    let shared: Buffer | undefined;
    let traced: Buffer | undefined; // the shared frame with its trace, for extended receivers [SB-15-2]
    for (const target of targets) {
      const trace = traceFor(target.peer, payload);
      if (target.suffix === undefined) {
        if (trace === '') {
          shared ??= Buffer.from(encodeMessage(payload.body, payload.from, undefined, payload.suffix));
          target.peer.write('message', shared);
        } else {
          traced ??= Buffer.from(encodeMessage(payload.body, payload.from, undefined, payload.suffix + trace));
          target.peer.write('message', traced);
        }
      } else {
        target.peer.write('message', encodeMessage(payload.body, payload.from, undefined, payload.suffix + trace + target.suffix));
      }
    }
    return;
  }
  if (targets.length === 0 && queued.length === 0) {
    const ids: ErrorDetails = { ack };
    if (options.ref !== undefined) ids.ref = options.ref;
    ctx.metrics.outcome('no_responders', performance.now());
    sender.error('no_responders', 'no destination of the request is registered', ids); // [SB-6-6]
    return;
  }
  const requestOptions = {
    answersOnly: sender.dialect === 'legacy',
    gather: options.gather,
    retry: options.retry,
    timeoutMs: options.timeoutMs,
    payload,
    window: sender.dialect === 'legacy' ? 0 : (options.window ?? 0), // a legacy sender cannot hear `progress` [SB-13-1]
  };
  // [SB-6.3-3] Each queued slot waits for its name's next holder (naming.ts writeMailbox).
  const { deliveries } = ctx.pending.add(sender, ack, requestOptions, targets, queued.length, plan.slotNames);
  for (const delivery of deliveries) writeDelivery(delivery);
}

/** Write the `message` frame of one delivery of a request. */
export function writeDelivery(delivery: Delivery<Session>): void {
  const { payload } = delivery.request;
  let suffix = payload.suffix + traceFor(delivery.receiver, payload) + (delivery.suffix ?? '');
  // [SB-13-1] an extended receiver of a streaming request learns the parts it may send before a pull; a
  // legacy receiver never sees `credit` [SB-13-5]
  if (delivery.credit > 0 && delivery.receiver.dialect === 'extended') suffix += `,"credit":${delivery.credit}`;
  delivery.receiver.writeDelivery(delivery.id, delivery.name, encodeMessage(payload.body, payload.from, delivery.id, suffix));
}

/** Write a message that waited in a mailbox (not a request) to the name's new holder ([SB-6.3-1]). */
export function writeQueued(session: Session, payload: Payload, mailboxId: string): void {
  const mark = session.dialect === 'extended' ? `,"mailbox":"${mailboxId}"` : ''; // [SB-6.3-4]
  session.write('message', encodeMessage(payload.body, payload.from, undefined, payload.suffix + traceFor(session, payload) + mark));
}

/** The encoded trace a receiver gets with a message: the sender's, to extended receivers only ([SB-15-1], [SB-15-2]). */
export function traceFor(receiver: Session, payload: Payload): string {
  return payload.trace === undefined || receiver.dialect === 'legacy' ? '' : payload.trace;
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
