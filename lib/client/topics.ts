/**
 * The client's subscriptions (protocol.md 4.6): one handler per topic, the topics subscribed again on
 * every new connection (after the names, since a subscription needs one [SB-4.6-1]), and the handler
 * lookup for published messages by their `context`, the subscription that matched ([SB-4.7-2]). A
 * subscription's topic may be a filter with `*` and `>` segments ([SB-3-5]): the broker gives the filter
 * as written as `context`, so a message finds its handler by that one key, whatever topic it came on.
 *
 * A subscription the broker refuses when a new connection restores it (`limit_exceeded`, `forbidden`)
 * is dropped: retrying cannot fix it. It rejects the `subscribe()` that waits for it, or else is
 * reported as an `error` event.
 */
import { TOPIC_FILTER_PATTERN, TOPIC_MAX_LENGTH, TOPIC_PATTERN } from '../protocol/wire.js';
import type { Connection } from './connection.js';
import type { ControlAction } from './control.js';
import { SwitchboardError } from './errors.js';
import type { TopicHandler } from './responder.js';

const topicRegExp = new RegExp(TOPIC_PATTERN);
const filterRegExp = new RegExp(TOPIC_FILTER_PATTERN);

/** True when `value` is a topic by [SB-3-4]: 1 to 16 dot-separated segments, at most 256 characters. */
export function isTopic(value: string): boolean {
  return value.length > 0 && value.length <= TOPIC_MAX_LENGTH && topicRegExp.test(value);
}

/** True when `value` is a topic filter by [SB-3-5]: a topic whose segments may be `*`, and the last `>`. */
export function isTopicFilter(value: string): boolean {
  return value.length > 0 && value.length <= TOPIC_MAX_LENGTH && filterRegExp.test(value);
}

/** The frame of a (un)subscribe; a filter with `*` or `>` says `"wildcards": true` ([SB-4.6-4]). */
function frameOf(action: 'subscribe' | 'unsubscribe', topic: string): string {
  return JSON.stringify(isTopic(topic) ? { action, topic } : { action, topic, wildcards: true });
}

const FILTER_RULE = 'a topic filter: 1 to 16 dot-separated segments of A-Z a-z 0-9 _ : @ / ~ -, or *, or > as the last';

/** What the subscriptions need from the client. */
export interface SubscriptionHost {
  /** Resolves when the client is ready (at once if it is); rejects when it closes. */
  ready(): Promise<void>;
  /** Resolves at the next time the client becomes ready, not at once; rejects when it closes. */
  nextReady(): Promise<void>;
  /** The connection when the client is ready and its socket open. */
  writable(): Connection | undefined;
  /** Send a control frame on `conn` and wait for its reply. */
  control(action: ControlAction, key: string, text: string, conn: Connection): Promise<void>;
  /** Emit a problem that belongs to no call. */
  report(error: SwitchboardError): void;
}

interface Entry {
  handler: TopicHandler;
  /** The connection on which the broker confirmed it. */
  conn: Connection | undefined;
  /** Set when the broker refused it on a new connection. */
  refused: SwitchboardError | undefined;
  /** True while a `subscribe()` call waits for it: a refusal rejects the call instead of an event. */
  awaited: boolean;
}

export class Subscriptions {
  // Topics come off the user and the wire: a Map, never a plain object (`__proto__` is a valid topic).
  readonly #entries = new Map<string, Entry>();
  readonly #host: SubscriptionHost;

  constructor(host: SubscriptionHost) {
    this.#host = host;
  }

  /** The topics subscribed, or to subscribe again after a reconnect. */
  get topics(): string[] {
    return [...this.#entries.keys()];
  }

  /** The handler of the subscription to exactly `topic` (a filter as written: a message's `context`). */
  handler(topic: string): TopicHandler | undefined {
    return this.#entries.get(topic)?.handler;
  }

  /**
   * Subscribe `handler` to `topic` (replacing the handler of a subscription to the same topic); resolves
   * with a function that ends this subscription once the broker confirmed it on the current connection.
   */
  async subscribe(topic: string, handler: TopicHandler, origin: Error): Promise<() => Promise<void>> {
    if (typeof topic !== 'string' || !isTopicFilter(topic)) {
      const text = `${JSON.stringify(topic)} is not a valid topic (${FILTER_RULE})`;
      throw new SwitchboardError('invalid_argument', text, { origin });
    }
    if (typeof handler !== 'function') throw new SwitchboardError('invalid_argument', 'the handler must be a function', { origin });
    const entry: Entry = { handler, conn: undefined, refused: undefined, awaited: true };
    this.#entries.set(topic, entry);
    const end = () => (this.#entries.get(topic) === entry ? this.unsubscribe(topic) : Promise.resolve());
    const rethrow = (error: SwitchboardError): never => {
      throw new SwitchboardError(error.code, error.message, { origin, from: topic, cause: error.cause, ...(error.limit ? { limit: error.limit } : {}) });
    };
    try {
      await this.#host.ready().catch((error: SwitchboardError) => {
        if (this.#entries.get(topic) === entry) this.#entries.delete(topic); // the client closed
        rethrow(error);
      });
      const conn = this.#host.writable();
      // Refused by the connect that made the client ready; or subscribed by it, replaced or ended since.
      if (entry.refused !== undefined) rethrow(entry.refused);
      if (this.#entries.get(topic) !== entry || (conn !== undefined && entry.conn === conn)) return end;
      try {
        if (conn === undefined) throw new SwitchboardError('disconnected', 'not connected');
        await this.#host.control('subscribe', topic, frameOf('subscribe', topic), conn);
        if (this.#entries.get(topic) === entry) entry.conn = conn;
      } catch (error) {
        if ((error as SwitchboardError).code !== 'disconnected') {
          if (this.#entries.get(topic) === entry) this.#entries.delete(topic);
          rethrow(error as SwitchboardError);
        }
        // The next connect subscribes it again, or refuses it.
        await this.#host.nextReady().catch(rethrow);
        if (entry.refused !== undefined) rethrow(entry.refused);
      }
      return end;
    } finally {
      entry.awaited = false;
    }
  }

  /** End the subscription to `topic`; it is not subscribed again after a reconnect. */
  async unsubscribe(topic: string): Promise<void> {
    if (typeof topic !== 'string' || !isTopicFilter(topic)) throw new SwitchboardError('invalid_argument', `${JSON.stringify(topic)} is not a valid topic filter`);
    this.#entries.delete(topic);
    const conn = this.#host.writable();
    if (conn === undefined) return; // subscriptions end with their connection
    try {
      await this.#host.control('unsubscribe', topic, frameOf('unsubscribe', topic), conn);
    } catch (error) {
      if ((error as SwitchboardError).code !== 'disconnected') throw error;
    }
  }

  /** A new connection: subscribe every topic again. Rejects only when the connection drops. */
  async restore(conn: Connection): Promise<void> {
    await Promise.all(
      [...this.#entries].map(async ([topic, entry]) => {
        try {
          await this.#host.control('subscribe', topic, frameOf('subscribe', topic), conn);
          if (this.#entries.get(topic) === entry) entry.conn = conn;
          // Ended while the client was not ready, so its unsubscribe was never sent: send it now.
          else if (!this.#entries.has(topic)) await this.#host.control('unsubscribe', topic, frameOf('unsubscribe', topic), conn);
        } catch (error) {
          const refusal = error as SwitchboardError;
          if (refusal.code === 'disconnected') throw refusal;
          if (this.#entries.get(topic) !== entry) return; // replaced or ended meanwhile
          this.#entries.delete(topic);
          entry.refused = refusal;
          if (!entry.awaited) this.#host.report(refusal);
        }
      }),
    );
  }
}
