/**
 * The embedding process as a peer (protocol.md section 4.9): `broker.peer(name)` gives a connection that
 * lives inside the broker's process. It speaks the extended dialect through an in-process socket, so it
 * takes every code path a remote client takes: the same decode, limits, routing and outcomes [SB-4.9-1].
 */
import { EventEmitter } from 'node:events';
import type { AnswerError, BrokerFrame, GatherResult } from '../protocol/index.js';
import type { SessionSocket } from './session.js';

/** A failed request or refused frame: `code` is one of protocol.md's codes, or `responder_error`. */
export class PeerError extends Error {
  readonly code: string;
  readonly detail: AnswerError | undefined;
  constructor(code: string, message: string, detail?: AnswerError) {
    super(message);
    this.name = 'PeerError';
    this.code = code;
    this.detail = detail;
  }
}

export interface MessageContext {
  readonly from: string;
  readonly topic?: string;
  readonly event?: string;
}

export type Handler = (message: unknown, context: MessageContext) => unknown;

export interface RequestOptions {
  /** The deadline in milliseconds; the broker's default when absent. */
  timeout?: number;
  event?: string;
}

type Settle = { resolve(frame: BrokerFrame): void; reject(error: PeerError): void };

/** The broker side of the in-process socket: what the Session writes arrives at the peer. */
export class LocalSocket implements SessionSocket {
  readonly OPEN = 1;
  readyState = 1;
  readonly bufferedAmount = 0;
  readonly #events = new EventEmitter();
  readonly #deliver: (text: string) => void;

  constructor(deliver: (text: string) => void) {
    this.#deliver = deliver;
  }

  send(text: string): void {
    queueMicrotask(() => this.#deliver(text));
  }

  close(): void {
    this.terminate();
  }

  terminate(): void {
    if (this.readyState !== this.OPEN) return;
    this.readyState = 3;
    queueMicrotask(() => this.#events.emit('close'));
  }

  ping(): void {}

  once(event: 'close', listener: () => void): this {
    this.#events.once(event, listener);
    return this;
  }
}

export class BrokerPeer {
  readonly name: string;
  readonly #write: (frame: object) => void;
  readonly #waiting = new Map<string, Settle>();
  #handler: Handler | undefined;
  #next = 0;

  constructor(name: string, write: (frame: object) => void) {
    this.name = name;
    this.#write = write;
  }

  /** Register this peer's name; rejects with `name_taken` when a connection holds it. */
  register(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.set(`name:${this.name}`, { resolve: () => resolve(), reject });
      this.#write({ action: 'register', id: this.name });
    });
  }

  /** Answer requests with the handler's value (or its thrown error); take other messages too. */
  handle(handler: Handler): void {
    this.#handler = handler;
  }

  /** Send without waiting for an answer; resolves with who got it, who is unknown, who was queued. */
  async send(dest: string | string[], message: unknown, options: { event?: string } = {}) {
    const frame = await this.#ask('send', { dest, message, ...options }, 'ref');
    if (frame.action !== 'sent') throw unexpected(frame);
    return { delivered: frame.delivered, unknown: frame.unknown, queued: frame.queued ?? [] };
  }

  /** Resolve with the first answer, or reject with a PeerError whose code is the outcome. */
  async request(dest: string | string[], message: unknown, options: RequestOptions = {}) {
    const frame = await this.#ask('send', { dest, message, ...options }, 'ack');
    if (frame.action !== 'answer') throw unexpected(frame);
    if (frame.error !== undefined) throw new PeerError('responder_error', frame.error.message, frame.error);
    return { from: frame.from, message: frame.message };
  }

  /** Resolve with every destination's result once all are in, or at the deadline. */
  async gather(dest: string | string[], message: unknown, options: RequestOptions = {}): Promise<GatherResult[]> {
    const frame = await this.#ask('send', { dest, message, gather: true, ...options }, 'ack');
    if (frame.action !== 'gathered') throw unexpected(frame);
    return frame.results;
  }

  /** Publish to topics; resolves with the number of receivers. */
  async publish(topic: string | string[], message: unknown, options: { event?: string } = {}): Promise<number> {
    const frame = await this.#ask('publish', { topic, message, ...options }, 'ref');
    if (frame.action !== 'published') throw unexpected(frame);
    return frame.receivers;
  }

  /** Called with every frame the broker writes to this peer. */
  receive(frame: BrokerFrame): void {
    switch (frame.action) {
      case 'message':
        this.#onMessage(frame.message, { from: frame.from, topic: frame.topic, event: frame.event }, frame.ack);
        return;
      case 'registered':
        this.#settle(`name:${frame.id}`, frame);
        return;
      case 'error': {
        const key = frame.ack ?? frame.ref ?? (frame.id === undefined ? undefined : `name:${frame.id}`);
        const waiting = key === undefined ? undefined : this.#waiting.get(key);
        if (waiting !== undefined && key !== undefined) {
          this.#waiting.delete(key);
          waiting.reject(new PeerError(frame.code, frame.message));
        }
        return;
      }
      case 'answer':
      case 'gathered':
        this.#settle(frame.ack, frame);
        return;
      case 'sent':
      case 'published':
        if (frame.ref !== undefined) this.#settle(frame.ref, frame);
        return;
      default:
        return; // cancel, unregistered, ...: nothing to do
    }
  }

  /** Reject everything still waiting: the broker is closing. */
  closeAll(): void {
    for (const waiting of this.#waiting.values()) waiting.reject(new PeerError('shutting_down', 'the broker is closing'));
    this.#waiting.clear();
  }

  #ask(action: string, fields: object, key: 'ack' | 'ref'): Promise<BrokerFrame> {
    const id = `local-${++this.#next}`;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#write({ action, ...fields, [key]: id });
    });
  }

  #settle(key: string, frame: BrokerFrame): void {
    const waiting = this.#waiting.get(key);
    if (waiting === undefined) return;
    this.#waiting.delete(key);
    waiting.resolve(frame);
  }

  #onMessage(message: unknown, context: MessageContext, ack: string | undefined): void {
    const handler = this.#handler;
    if (handler === undefined) {
      if (ack !== undefined) this.#write({ action: 'answer', ack, error: { code: 'no_handler', message: 'no handler' } });
      return;
    }
    Promise.resolve()
      .then(() => handler(message, context))
      .then(
        (answer) => ack !== undefined && this.#write({ action: 'answer', ack, message: answer ?? null }),
        (error: unknown) => {
          if (ack === undefined) return;
          const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'handler_error';
          this.#write({ action: 'answer', ack, error: { code: code.slice(0, 64), message: String((error as Error)?.message ?? error).slice(0, 1024) } });
        },
      );
  }
}

function unexpected(frame: BrokerFrame): PeerError {
  return new PeerError('internal_error', `unexpected ${frame.action} frame`);
}
