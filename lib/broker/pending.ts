/**
 * The pending-request table (protocol.md section 6): every request the broker accepted, from `send`
 * with `ack` to its one outcome, and the delivery ids its receivers may answer with.
 *
 * A request is *open* until its outcome is decided, then it may *linger* while receivers that lost the
 * race still hold delivery ids, so their late answers are dropped quietly ([SB-4.4-2]) instead of
 * answered with `unknown_ack`. It is freed when every delivery has ended, at its deadline, or when its
 * sender leaves ([SB-6-10]). Keyed by delivery id (broker-chosen, [SB-6-3]) and, per sender, by the
 * sender's own `ack` ([SB-6-1]): sender acks are never global keys.
 *
 * Outcomes are reported through `onOutcome`; the table never writes frames itself.
 */
import { nanoid } from 'nanoid';
import type { AnswerError, OUTCOME_CODES } from '../protocol/index.js';

type OutcomeCode = (typeof OUTCOME_CODES)[number];

export type Outcome =
  | { kind: 'answer'; from: string; message: unknown; error?: AnswerError }
  | { kind: 'failure'; code: OutcomeCode; message: string };

export interface Target<Peer> {
  readonly peer: Peer;
  readonly name: string;
}

export interface Delivery<Peer> {
  readonly id: string;
  readonly receiver: Peer;
  readonly name: string;
  readonly request: PendingRequest<Peer>;
}

export interface PendingRequest<Peer> {
  readonly sender: Peer;
  readonly ack: string;
  /** True when the sender hears only answers (legacy dialect, [SB-6-11]). */
  readonly answersOnly: boolean;
  readonly deliveries: Map<string, Delivery<Peer>>;
  open: boolean;
  timer: NodeJS.Timeout | undefined;
}

export type AnswerResult = 'won' | 'late' | 'ended' | 'unknown';

interface SenderState<Peer> {
  readonly open: Map<string, PendingRequest<Peer>>;
  readonly all: Set<PendingRequest<Peer>>;
}

export class PendingTable<Peer> {
  readonly #byDeliveryId = new Map<string, Delivery<Peer>>();
  readonly #senders = new Map<Peer, SenderState<Peer>>();
  readonly #receivers = new Map<Peer, Set<Delivery<Peer>>>();
  readonly #onOutcome: (request: PendingRequest<Peer>, outcome: Outcome) => void;
  #open = 0;
  #lateAnswers = 0;

  constructor(onOutcome: (request: PendingRequest<Peer>, outcome: Outcome) => void) {
    this.#onOutcome = onOutcome;
  }

  /** Requests whose outcome is not decided yet. */
  get open(): number {
    return this.#open;
  }

  /** Delivery ids that may still be answered (open and lingering requests). */
  get deliveries(): number {
    return this.#byDeliveryId.size;
  }

  /** Answers dropped because another receiver had already won ([SB-4.4-2]). */
  get lateAnswers(): number {
    return this.#lateAnswers;
  }

  /** Requests `sender` has open. */
  openOf(sender: Peer): number {
    return this.#senders.get(sender)?.open.size ?? 0;
  }

  /** True when `sender` has an open request with this `ack` ([SB-6-2]). */
  has(sender: Peer, ack: string): boolean {
    return this.#senders.get(sender)?.open.has(ack) === true;
  }

  /** Open a request to `targets` (at least one); returns its deliveries, one id per receiver. */
  add(sender: Peer, ack: string, answersOnly: boolean, timeoutMs: number, targets: Target<Peer>[]): Delivery<Peer>[] {
    const request: PendingRequest<Peer> = { sender, ack, answersOnly, deliveries: new Map(), open: true, timer: undefined };
    const created: Delivery<Peer>[] = [];
    for (const { peer, name } of targets) {
      const delivery: Delivery<Peer> = { id: nanoid(), receiver: peer, name, request };
      request.deliveries.set(delivery.id, delivery);
      this.#byDeliveryId.set(delivery.id, delivery);
      let held = this.#receivers.get(peer);
      if (held === undefined) this.#receivers.set(peer, (held = new Set()));
      held.add(delivery);
      created.push(delivery);
    }
    let state = this.#senders.get(sender);
    if (state === undefined) this.#senders.set(sender, (state = { open: new Map(), all: new Set() }));
    state.open.set(ack, request);
    state.all.add(request);
    this.#open++;
    request.timer = setTimeout(() => this.#expire(request), timeoutMs);
    return created;
  }

  /** An answer from `receiver` with delivery id `id` ([SB-4.4-1], [SB-6-4], [SB-6-7]). */
  answer(receiver: Peer, id: string, message: unknown, error: AnswerError | undefined): AnswerResult {
    const delivery = this.#byDeliveryId.get(id);
    if (delivery === undefined || delivery.receiver !== receiver) return 'unknown';
    const request = delivery.request;
    this.#endDelivery(delivery);
    if (!request.open) {
      this.#lateAnswers++;
      this.#freeIfDone(request);
      return 'late';
    }
    if (error !== undefined && request.answersOnly) {
      // A legacy sender cannot hear an error: it ends only this delivery ([SB-6-11]).
      this.#afterDeliveryLost(request);
      return 'ended';
    }
    this.#decide(request, { kind: 'answer', from: delivery.name, message, error });
    return 'won';
  }

  /** `receiver` no longer answers for `name` (it unregistered it): its deliveries by that name end ([SB-6-9]). */
  nameReleased(receiver: Peer, name: string): void {
    const held = this.#receivers.get(receiver);
    if (held === undefined) return;
    for (const delivery of [...held]) {
      if (delivery.name !== name) continue;
      this.#endDelivery(delivery);
      this.#afterDeliveryLost(delivery.request);
    }
  }

  /** `peer` disconnected: free the requests it sent ([SB-6-10]) and end the deliveries it held ([SB-6-9]). */
  peerGone(peer: Peer): void {
    const state = this.#senders.get(peer);
    if (state !== undefined) {
      for (const request of state.all) this.#free(request);
      this.#senders.delete(peer);
    }
    const held = this.#receivers.get(peer);
    if (held !== undefined) {
      for (const delivery of [...held]) {
        this.#endDelivery(delivery);
        this.#afterDeliveryLost(delivery.request);
      }
      this.#receivers.delete(peer);
    }
  }

  /** End every open request with `shutting_down` and free everything ([SB-2-6]). */
  clear(): void {
    for (const state of [...this.#senders.values()]) {
      for (const request of [...state.all]) {
        if (request.open) {
          this.#decide(request, { kind: 'failure', code: 'shutting_down', message: 'the broker is shutting down' });
        }
        this.#free(request);
      }
    }
  }

  #afterDeliveryLost(request: PendingRequest<Peer>): void {
    if (request.deliveries.size > 0) return;
    if (request.open) {
      this.#decide(request, {
        kind: 'failure',
        code: 'responder_gone',
        message: 'every receiver of the request disconnected or unregistered',
      });
    } else {
      this.#free(request);
    }
  }

  #expire(request: PendingRequest<Peer>): void {
    request.timer = undefined;
    if (request.open) {
      this.#decide(request, { kind: 'failure', code: 'timeout', message: 'the request reached its deadline' });
    }
    this.#free(request);
  }

  #decide(request: PendingRequest<Peer>, outcome: Outcome): void {
    request.open = false;
    this.#open--;
    this.#senders.get(request.sender)?.open.delete(request.ack);
    this.#onOutcome(request, outcome);
    this.#freeIfDone(request);
  }

  #freeIfDone(request: PendingRequest<Peer>): void {
    if (request.deliveries.size === 0) this.#free(request);
  }

  #free(request: PendingRequest<Peer>): void {
    if (request.timer !== undefined) clearTimeout(request.timer);
    request.timer = undefined;
    for (const delivery of [...request.deliveries.values()]) this.#endDelivery(delivery);
    const state = this.#senders.get(request.sender);
    if (state !== undefined) {
      state.all.delete(request);
      if (request.open) state.open.delete(request.ack);
      if (state.all.size === 0) this.#senders.delete(request.sender);
    }
    if (request.open) {
      request.open = false;
      this.#open--;
    }
  }

  #endDelivery(delivery: Delivery<Peer>): void {
    delivery.request.deliveries.delete(delivery.id);
    this.#byDeliveryId.delete(delivery.id);
    const held = this.#receivers.get(delivery.receiver);
    if (held !== undefined) {
      held.delete(delivery);
      if (held.size === 0) this.#receivers.delete(delivery.receiver);
    }
  }
}
