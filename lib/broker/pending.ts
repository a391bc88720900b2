/**
 * The pending-request table (protocol.md section 6): every request the broker accepted, from `send` or
 * `publish` with `ack` to its one outcome.
 *
 * A request has *slots*, one per destination it reached: a slot is answered by a *delivery* (a delivery
 * id given to one receiver, [SB-6-3]), or waits in a mailbox until its name comes back ([SB-6.3-1]).
 * In first-answer mode the first answer decides ([SB-6-7]); in gather mode every slot must resolve
 * ([SB-6.2-1]). When the outcome is decided, receivers still holding a delivery are told to cancel
 * ([SB-6.1-2]) and their ids are remembered for a while, so that a late answer is dropped quietly
 * ([SB-4.4-2]). Sender acks are keyed per sender ([SB-6-1]), never globally.
 *
 * The table writes no frames: it reports through hooks, and the broker writes.
 */
import { randomFillSync } from 'node:crypto';
import { RenewingMap, RenewingSet } from '../collections/renewing.js';
import type { AnswerError, CancelOutFrame, OUTCOME_CODES, Trace } from '../protocol/wire.js';

type OutcomeCode = (typeof OUTCOME_CODES)[number];
export type CancelReason = CancelOutFrame['reason'];

/** An answer as the table takes it: its encoded body or its error, and its trace ([SB-15-1]). */
export type Answer = ({ body: string } | { error: AnswerError }) & { trace?: Trace };

/** One destination's part of a gathered outcome; an answer's body is kept encoded, as it arrived. */
export type SlotResult =
  | { from: string; body: string; trace?: Trace }
  | { from: string; error: AnswerError; trace?: Trace }
  | { from: string; code: 'timeout' | 'responder_gone' };

export type Outcome =
  | { kind: 'answer'; from: string; body: string; trace?: Trace }
  | { kind: 'error-answer'; from: string; error: AnswerError; trace?: Trace }
  | { kind: 'gathered'; results: SlotResult[] }
  | { kind: 'failure'; code: OutcomeCode; message: string };

export interface Target<Peer> {
  readonly peer: Peer;
  /** The name the receiver is reached by: the `from` of its answer. */
  readonly name: string;
  /** Encoded fields for this receiver only (a subscriber's topic and context), or none. */
  readonly suffix?: string;
  /**
   * The request's slots this receiver answers: one per destination name that reached it, so that a
   * gather has one result per destination even when one connection holds two of them ([SB-6.2-1]).
   * Default: the target's own index. The delivery made for the target takes the array over.
   */
  readonly slots?: number[];
}

/** The parts of the `message` frame, encoded once, that every receiver of a request gets. */
export interface Payload {
  readonly body: string;
  readonly from: string;
  /** Extra encoded fields (`,"event":...`), or "". */
  readonly suffix: string;
  /** The encoded `trace` field (traceSuffix), for extended receivers only ([SB-15-2]); absent for none. */
  readonly trace?: string;
}

export interface Delivery<Peer> {
  readonly id: string;
  readonly receiver: Peer;
  readonly name: string;
  /** The slots it answers (see Target.slots); a slot leaves when its name is released. */
  readonly slots: number[];
  readonly suffix: string | undefined;
  readonly request: PendingRequest<Peer>;
  /** A streaming request's parts this receiver may still send before a pull ([SB-13-3]); 0 otherwise. */
  credit: number;
}

export interface RequestOptions {
  /** The sender hears only answers (legacy dialect, [SB-6-11]). */
  readonly answersOnly: boolean;
  readonly gather: boolean;
  /** Safe to move to another pool member when a receiver goes away ([SB-6.4-2]). */
  readonly retry: boolean;
  readonly timeoutMs: number;
  readonly payload: Payload;
  /** The credit each delivery starts with when the sender accepts progressive results ([SB-13-1]); 0 or absent: not a stream. */
  readonly window?: number;
}

export interface PendingRequest<Peer> extends RequestOptions {
  readonly window: number;
  readonly sender: Peer;
  readonly ack: string;
  readonly deliveries: Map<string, Delivery<Peer>>;
  /** The destination name of every slot, and its result once resolved (gather mode). */
  readonly slotNames: string[];
  readonly results: (SlotResult | undefined)[];
  unresolved: number;
  /** Receivers tried so far, kept only for a request that may be retried (pool failover never retries the same one). */
  readonly tried: Set<Peer> | undefined;
  open: boolean;
  timer: NodeJS.Timeout | undefined;
  /** When it was opened, in performance.now() milliseconds (for the duration metrics). */
  readonly startedAt: number;
}

export interface PendingHooks<Peer> {
  /** The one outcome of a request; undefined when its sender left and nobody is told ([SB-6-10]). */
  outcome(request: PendingRequest<Peer>, outcome: Outcome | undefined): void;
  /** Tell a receiver to stop working on a delivery. */
  cancel(delivery: Delivery<Peer>, reason: CancelReason): void;
  /** Another receiver for a lost delivery of a retry-safe request, or none. */
  reroute(request: PendingRequest<Peer>, lost: Delivery<Peer>): Target<Peer> | undefined;
  /** Write the `message` frame of a delivery made after the request was opened. */
  deliver(delivery: Delivery<Peer>): void;
  /** What `receiver` holds changed: a delivery to it began or ended (a cluster counts it, cluster/busy.ts). */
  held?(receiver: Peer): void;
}

export type AnswerResult = 'won' | 'recorded' | 'late' | 'ended' | 'unknown';

const NO_DELIVERIES: readonly never[] = [];

/** Bytes of randomness in a delivery id: 128 bits ([SB-6-3] asks for at least 120). */
const ID_BYTES = 16;
const idPool = Buffer.allocUnsafe(ID_BYTES * 256);
let idOffset = idPool.length;

/**
 * A new delivery id ([SB-6-3]): 16 random bytes as base64url, 22 characters, cut from a pool filled 256
 * ids at a time. One native call and one string per id, where nanoid builds its 21 characters one
 * concatenation at a time: on the path of every request. The one way a delivery id is drawn, here and
 * by a cluster node that writes a queued request itself (cluster/mailboxes.ts).
 */
export function deliveryId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const id = idPool.toString('base64url', idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return id;
}

/** Delivery ids remembered per receiver after their request ended, for quiet late answers. */
const REMEMBERED_PER_RECEIVER = 1024;

interface SenderState<Peer> {
  readonly open: RenewingMap<string, PendingRequest<Peer>>;
}

export class PendingTable<Peer> {
  // Every collection whose keys come and go with requests renews its table (collections/renewing.ts).
  readonly #byDeliveryId = new RenewingMap<string, Delivery<Peer>>();
  readonly #senders = new Map<Peer, SenderState<Peer>>();
  readonly #receivers = new RenewingMap<Peer, RenewingSet<Delivery<Peer>>>();
  readonly #ended = new Map<Peer, RenewingSet<string>>();
  readonly #hooks: PendingHooks<Peer>;
  #open = 0;
  #lateAnswers = 0;

  constructor(hooks: PendingHooks<Peer>) {
    this.#hooks = hooks;
  }

  /** Requests whose outcome is not decided yet. */
  get open(): number {
    return this.#open;
  }

  /** Delivery ids that may still be answered. */
  get deliveries(): number {
    return this.#byDeliveryId.size;
  }

  /** Answers dropped quietly because their request had ended for that receiver ([SB-4.4-2]). */
  get lateAnswers(): number {
    return this.#lateAnswers;
  }

  openOf(sender: Peer): number {
    return this.#senders.get(sender)?.open.size ?? 0;
  }

  /** Deliveries `receiver` holds: its requests in flight. */
  inFlight(receiver: Peer): number {
    return this.#receivers.get(receiver)?.size ?? 0;
  }

  /** The deliveries `receiver` holds, for introspection (lib/monitor): read them, never change them. */
  deliveriesOf(receiver: Peer): Iterable<Delivery<Peer>> {
    return this.#receivers.get(receiver) ?? NO_DELIVERIES;
  }

  has(sender: Peer, ack: string): boolean {
    return this.#senders.get(sender)?.open.has(ack) === true;
  }

  /**
   * Open a request with one slot per name of `slotNames` (a destination reached: in the order of `dest`,
   * [SB-6.2-1]): the targets are delivered now, and `queued` slots wait for `attach`. Without
   * `slotNames`, each target is its own slot. Returns the request and its deliveries.
   */
  add(sender: Peer, ack: string, options: RequestOptions, targets: Target<Peer>[], queued = 0, slotNames?: string[]) {
    // Fields written out: spreading `options` here cost V8's slow path, about 15 us per request.
    const request: PendingRequest<Peer> = {
      answersOnly: options.answersOnly,
      gather: options.gather,
      retry: options.retry,
      timeoutMs: options.timeoutMs,
      payload: options.payload,
      window: options.window ?? 0,
      sender,
      ack,
      deliveries: new Map(),
      slotNames: slotNames ?? targets.map((t) => t.name),
      results: [],
      // Gather waits for every slot; first-answer for the routes that can still answer.
      unresolved: options.gather ? (slotNames?.length ?? targets.length) : targets.length + queued,
      tried: options.retry ? new Set() : undefined,
      open: true,
      timer: undefined,
      startedAt: performance.now(),
    };
    const deliveries = targets.map((target, index) => this.#deliver(request, target, target.slots ?? [index]));
    let state = this.#senders.get(sender);
    if (state === undefined) this.#senders.set(sender, (state = { open: new RenewingMap() }));
    state.open.set(ack, request);
    this.#open++;
    request.timer = setTimeout(() => this.#expire(request), options.timeoutMs);
    return { request, deliveries };
  }

  /**
   * Deliver slot `slot` of `sender`'s request `ack`, which waited in the mailbox of `target.name`, now that
   * the name has a holder ([SB-6.3-3]); undefined when that request has ended (a later request with the
   * same `ack` has other slots). `id`: the delivery id another cluster node gave it when it wrote the
   * message itself (cluster/mailboxes.ts).
   */
  attach(sender: Peer, ack: string, slot: number, target: Target<Peer>, id?: string): Delivery<Peer> | undefined {
    const request = this.#senders.get(sender)?.open.get(ack);
    if (request === undefined || request.slotNames[slot] !== target.name) return undefined;
    return this.#deliver(request, target, [slot], id);
  }

  /**
   * An answer from `receiver` with delivery id `id`: its encoded body, or an error
   * ([SB-4.4-1], [SB-6-4], [SB-6-7], [SB-6.2-1]).
   */
  answer(receiver: Peer, id: string, answer: Answer): AnswerResult {
    const delivery = this.#byDeliveryId.get(id);
    if (delivery === undefined || delivery.receiver !== receiver) {
      if (this.#ended.get(receiver)?.delete(id) === true) {
        this.#lateAnswers++;
        return 'late';
      }
      return 'unknown';
    }
    const request = delivery.request;
    this.#endDelivery(delivery);
    if ('error' in answer && request.answersOnly) {
      this.#lose(delivery); // a legacy sender cannot hear an error: only this delivery ends ([SB-6-11])
      return 'ended';
    }
    const from = delivery.name;
    if (request.gather) {
      for (const slot of delivery.slots) {
        const name = request.slotNames[slot];
        this.#resolve(request, slot, 'error' in answer ? { from: name, error: answer.error, trace: answer.trace } : { from: name, body: answer.body, trace: answer.trace });
      }
      return 'recorded';
    }
    const outcome: Outcome =
      'error' in answer ? { kind: 'error-answer', from, error: answer.error, trace: answer.trace } : { kind: 'answer', from, body: answer.body, trace: answer.trace };
    this.#decide(request, outcome, 'answered');
    return 'won';
  }

  /**
   * A part of a streaming answer from `receiver` ([SB-13-2]): the delivery it goes on from, with one credit
   * spent; `late` when the request has ended for this receiver (dropped quietly, as answers are); `unknown`;
   * `no_credit` when the receiver has sent every part it was granted ([SB-13-3]).
   */
  progress(receiver: Peer, id: string): Delivery<Peer> | 'late' | 'unknown' | 'no_credit' {
    const delivery = this.#byDeliveryId.get(id);
    if (delivery === undefined || delivery.receiver !== receiver) {
      return this.#ended.get(receiver)?.has(id) === true ? 'late' : 'unknown';
    }
    if (delivery.credit === 0) return 'no_credit';
    delivery.credit--;
    return delivery;
  }

  /**
   * The sender took `n` more parts of its streaming request `ack` ([SB-13-3]): each delivery's credit
   * grows by `n`, to at most the request's window. Returns each delivery with the credit it gained.
   */
  pull(sender: Peer, ack: string, n: number): Array<{ delivery: Delivery<Peer>; gained: number }> {
    const request = this.#senders.get(sender)?.open.get(ack);
    if (request === undefined || request.window === 0) return [];
    const granted: Array<{ delivery: Delivery<Peer>; gained: number }> = [];
    for (const delivery of request.deliveries.values()) {
      const gained = Math.min(n, request.window - delivery.credit);
      if (gained <= 0) continue;
      delivery.credit += gained;
      granted.push({ delivery, gained });
    }
    return granted;
  }

  /** The sender cancels its request ([SB-6.1-1]); false when it has none with this ack. */
  cancel(sender: Peer, ack: string): boolean {
    const request = this.#senders.get(sender)?.open.get(ack);
    if (request === undefined) return false;
    this.#decide(request, { kind: 'failure', code: 'cancelled', message: 'the sender cancelled the request' }, 'cancelled');
    return true;
  }

  /**
   * `receiver` no longer answers for `name` (it unregistered it): the slots it was reached by under that
   * name are lost, and a delivery left with none is lost ([SB-6-9]).
   */
  nameReleased(receiver: Peer, name: string): void {
    for (const delivery of [...(this.#receivers.get(receiver) ?? [])]) {
      const { request, slots } = delivery;
      const kept = slots.filter((slot) => request.slotNames[slot] !== name);
      if (kept.length === slots.length) continue;
      // A first-answer delivery answers as the name it was reached by ([SB-6-7]): released, it is lost
      // ([SB-6-9]), though the connection still holds other names of `dest`. A gather keeps the slots left.
      if (kept.length > 0 && (request.gather || delivery.name !== name)) {
        if (request.gather) {
          for (const slot of slots) if (!kept.includes(slot)) this.#resolve(request, slot, { from: name, code: 'responder_gone' });
        }
        slots.splice(0, slots.length, ...kept);
        continue;
      }
      this.#endDelivery(delivery);
      this.#lose(delivery);
    }
  }

  /** `peer` disconnected: its requests end without an outcome ([SB-6-10]), its deliveries are lost ([SB-6-9]). */
  peerGone(peer: Peer): void {
    const state = this.#senders.get(peer);
    if (state !== undefined) {
      for (const request of [...state.open.values()]) this.#decide(request, undefined, 'sender_gone');
      this.#senders.delete(peer);
    }
    for (const delivery of [...(this.#receivers.get(peer) ?? [])]) {
      this.#endDelivery(delivery);
      this.#lose(delivery);
    }
    this.#ended.delete(peer);
  }

  /** End every open request with `shutting_down` ([SB-2-6]). */
  clear(): void {
    for (const state of [...this.#senders.values()]) {
      for (const request of [...state.open.values()]) {
        this.#decide(request, { kind: 'failure', code: 'shutting_down', message: 'the broker is shutting down' }, 'cancelled');
      }
    }
  }

  #deliver(request: PendingRequest<Peer>, target: Target<Peer>, slots: number[], id = deliveryId()): Delivery<Peer> {
    const delivery: Delivery<Peer> = { id, receiver: target.peer, name: target.name, slots, suffix: target.suffix, request, credit: request.window };
    request.deliveries.set(delivery.id, delivery);
    request.tried?.add(target.peer);
    this.#byDeliveryId.set(delivery.id, delivery);
    let held = this.#receivers.get(target.peer);
    if (held === undefined) this.#receivers.set(target.peer, (held = new RenewingSet()));
    held.add(delivery);
    this.#hooks.held?.(target.peer);
    return delivery;
  }

  /** A delivery ended without an answer: move it to another pool member if allowed, else its slot is gone. */
  #lose(delivery: Delivery<Peer>): void {
    const request = delivery.request;
    if (!request.open) return;
    if (request.retry) {
      const target = this.#hooks.reroute(request, delivery);
      if (target !== undefined) {
        this.#hooks.deliver(this.#deliver(request, target, delivery.slots)); // [SB-6.4-2]
        return;
      }
    }
    if (request.gather) {
      for (const slot of delivery.slots) this.#resolve(request, slot, { from: request.slotNames[slot], code: 'responder_gone' });
      return;
    }
    request.unresolved--;
    if (request.unresolved === 0) {
      const message = 'every receiver of the request disconnected or unregistered';
      this.#decide(request, { kind: 'failure', code: 'responder_gone', message }, 'answered');
    }
  }

  #resolve(request: PendingRequest<Peer>, slot: number, result: SlotResult): void {
    if (request.results[slot] !== undefined) return;
    request.results[slot] = result;
    request.unresolved--;
    if (request.unresolved === 0) this.#decide(request, { kind: 'gathered', results: request.results as SlotResult[] }, 'answered');
  }

  #expire(request: PendingRequest<Peer>): void {
    request.timer = undefined;
    if (!request.open) return;
    if (request.gather) {
      const results = request.slotNames.map((from, slot): SlotResult => request.results[slot] ?? { from, code: 'timeout' });
      this.#decide(request, { kind: 'gathered', results }, 'timeout');
      return;
    }
    this.#decide(request, { kind: 'failure', code: 'timeout', message: 'the request reached its deadline' }, 'timeout');
  }

  /** Decide the one outcome (none when the sender is gone), tell the other receivers, free the request. */
  #decide(request: PendingRequest<Peer>, outcome: Outcome | undefined, reason: CancelReason): void {
    request.open = false;
    this.#open--;
    if (request.timer !== undefined) clearTimeout(request.timer);
    request.timer = undefined;
    // A sender's table stays while it is connected (peerGone): one request at a time would make a Map for each.
    this.#senders.get(request.sender)?.open.delete(request.ack);
    this.#hooks.outcome(request, outcome);
    if (request.deliveries.size === 0) return;
    for (const delivery of [...request.deliveries.values()]) {
      this.#endDelivery(delivery);
      this.#remember(delivery);
      this.#hooks.cancel(delivery, reason); // [SB-6.1-2]
    }
  }

  #remember(delivery: Delivery<Peer>): void {
    let ended = this.#ended.get(delivery.receiver);
    if (ended === undefined) this.#ended.set(delivery.receiver, (ended = new RenewingSet()));
    ended.add(delivery.id);
    if (ended.size > REMEMBERED_PER_RECEIVER) ended.delete(ended.values().next().value as string);
  }

  #endDelivery(delivery: Delivery<Peer>): void {
    delivery.request.deliveries.delete(delivery.id);
    this.#byDeliveryId.delete(delivery.id);
    const held = this.#receivers.get(delivery.receiver);
    if (held !== undefined) {
      held.delete(delivery);
      if (held.size === 0) this.#receivers.delete(delivery.receiver);
      this.#hooks.held?.(delivery.receiver);
    }
  }
}
