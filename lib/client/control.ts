/**
 * The control frames waiting for the broker's reply on the current connection: `register` and
 * `unregister` (protocol.md 4.1, 4.2), `subscribe` and `unsubscribe` (4.6). Each frame goes out with a
 * `ref` of its own (`c-` and a counter: operation ids never contain `-`), which a broker of the second
 * edition echoes in its reply and in any error the frame causes [SB-4.0-5]: replies are matched by it,
 * in whatever order they come.
 *
 * A broker of the first edition echoes no `ref`; it answers one connection's frames in order, so its
 * replies are matched by what they name: `registered`/`unregistered`/`subscribed`/`unsubscribed` name the
 * name or topic they answer; a refusal is an `error` without `ack` or `ref` whose `id` is that name or
 * topic, and it answers the oldest waiting frame with that key whose action can be refused with that
 * code (`unauthorized`, which has no `id`, answers the oldest). An error that fits no waiting frame (a
 * fire-and-forget send refused, an `expired` report) is not a reply: the caller emits it.
 *
 * Every frame waits with a deadline (the client's `connectTimeoutMs`), then rejects with `timeout`: a
 * refusal that names nothing (an `internal_error` has no `id`) cannot be told from any other error, and
 * a call that waits for it must not wait forever.
 */
import { SwitchboardError, type SwitchboardErrorCode } from './errors.js';

export type ControlAction = 'register' | 'unregister' | 'subscribe' | 'unsubscribe' | 'announce' | 'services';

/** The codes by which the broker refuses each control frame (the client never sends bad ones). */
const REFUSALS: Record<ControlAction, ReadonlySet<SwitchboardErrorCode>> = {
  register: new Set(['name_taken', 'name_conflict', 'forbidden', 'limit_exceeded', 'internal_error', 'unavailable']),
  unregister: new Set(['not_registered', 'internal_error']),
  subscribe: new Set(['not_registered', 'forbidden', 'limit_exceeded', 'internal_error']),
  unsubscribe: new Set(['internal_error']),
  announce: new Set(['not_registered', 'internal_error']),
  services: new Set(['internal_error']),
};

/** The limit a `limit_exceeded` refusal of each action names. */
const LIMITS: Partial<Record<ControlAction, string>> = {
  register: 'maxNamesPerConnection',
  subscribe: 'maxSubscriptionsPerConnection',
};

interface Waiting {
  action: ControlAction;
  key: string;
  ref: string;
  timer: ReturnType<typeof setTimeout>;
  resolve(value?: unknown): void;
  reject(error: SwitchboardError): void;
}

export class ControlReplies {
  readonly #waiting: Waiting[] = [];
  readonly #timeoutMs: number;
  #next = 0;

  /** `timeoutMs`: how long a frame waits for its reply before it rejects with `timeout`. */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Send `text` (a control frame for `key`, the name or topic, as a JSON object without `ref`) with
   * `send`, with a `ref` added; resolves on the broker's reply, rejects with its error, with `timeout`
   * when no reply comes within the deadline, or with `disconnected` when `send` cannot write (`fail`
   * makes that error).
   */
  request<T = void>(action: ControlAction, key: string, text: string, send: (text: string) => boolean, fail: () => SwitchboardError): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const ref = `c-${(++this.#next).toString(36)}`;
      if (!send(`${text.slice(0, -1)},"ref":"${ref}"}`)) {
        reject(fail());
        return;
      }
      const timer = setTimeout(() => {
        const index = this.#waiting.indexOf(waiting);
        if (index !== -1) this.#waiting.splice(index, 1);
        reject(new SwitchboardError('timeout', `the broker did not answer ${action} "${key}" within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      const waiting: Waiting = { action, key, ref, timer, resolve: resolve as (value?: unknown) => void, reject };
      this.#waiting.push(waiting);
    });
  }

  /**
   * A `registered`, `unregistered`, `subscribed` or `unsubscribed` for `key`, with the `ref` it echoes
   * (none from a first-edition broker); false when nothing waited for it.
   */
  confirm(action: ControlAction, key: string, ref?: string, value?: unknown): boolean {
    if (ref !== undefined && this.#settle((w) => w.ref === ref && w.action === action, undefined, value)) return true;
    return this.#settle((w) => w.action === action && w.key === key, undefined, value);
  }

  /**
   * An error about a control frame: by its `ref`, the refusal of that frame; without one, the refusal of
   * the oldest waiting frame it fits, if any.
   */
  refuse(error: SwitchboardError, id: string | undefined, ref?: string): boolean {
    if (ref !== undefined) return this.#settle((w) => w.ref === ref, error);
    // A connection that must authenticate and has not is refused anything, without id [SB-4.5-2].
    if (error.code === 'unauthorized') return this.#settle(() => true, error);
    if (id === undefined) return false;
    return this.#settle(
      (w) => w.key === id && REFUSALS[w.action].has(error.code) && (error.code !== 'limit_exceeded' || error.limit === undefined || error.limit === LIMITS[w.action]),
      error,
    );
  }

  /** The connection is gone: nothing will be answered. */
  failAll(error: SwitchboardError): void {
    for (const waiting of this.#waiting.splice(0)) {
      clearTimeout(waiting.timer);
      waiting.reject(error);
    }
  }

  #settle(match: (w: Waiting) => boolean, error?: SwitchboardError, value?: unknown): boolean {
    const index = this.#waiting.findIndex(match);
    if (index === -1) return false;
    const [waiting] = this.#waiting.splice(index, 1);
    clearTimeout(waiting.timer);
    if (error === undefined) waiting.resolve(value);
    else waiting.reject(error);
    return true;
  }
}
