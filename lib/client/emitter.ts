/**
 * A tiny typed event emitter for the browser-safe client core: `node:events` is not available in
 * browsers, and the core must not depend on a bundler's shim. Events are declared as a map from name to
 * argument tuple, so `on('ready', (info) => ...)` is checked by the compiler.
 *
 * Unlike Node's EventEmitter, emitting `error` with no listener does nothing: the client reports
 * background problems as events, and an unobserved one must not crash a program. A listener that throws
 * does not break the emitter's caller (the client's state machine); its error is rethrown on a
 * microtask, where it surfaces as an uncaught exception like any other bug in user code.
 */
export type EventMap = { [event: string]: unknown[] };
export type Listener<A extends unknown[]> = (...args: A) => void;
type Stored = (...args: unknown[]) => void;

export class Emitter<E extends EventMap> {
  readonly #listeners = new Map<keyof E, Stored[]>();

  /** Add a listener; returns `this` for chaining. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener as unknown as Stored);
    this.#listeners.set(event, list);
    return this;
  }

  /** Add a listener that is removed after its first call. */
  once<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const wrapper: Listener<E[K]> = (...args) => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  /** Remove one listener, or every listener of `event` when none is given. */
  off<K extends keyof E>(event: K, listener?: Listener<E[K]>): this {
    if (listener === undefined) {
      this.#listeners.delete(event);
      return this;
    }
    const list = this.#listeners.get(event);
    if (list === undefined) return this;
    const index = list.lastIndexOf(listener as unknown as Stored);
    if (index !== -1) list.splice(index, 1);
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  /** Node-style alias of `off`. */
  removeListener<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    return this.off(event, listener);
  }

  listenerCount<K extends keyof E>(event: K): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** A listener of `event` threw: rethrow on a microtask (an uncaught exception), unless a subclass knows better. */
  protected listenerFailed(error: unknown, _event: keyof E): void {
    queueMicrotask(() => {
      throw error;
    });
  }

  /** Call every listener of `event` in order; returns true when there was at least one. */
  protected emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const list = this.#listeners.get(event);
    if (list === undefined) return false;
    for (const listener of [...list]) {
      try {
        listener(...args);
      } catch (error) {
        this.listenerFailed(error, event);
      }
    }
    return true;
  }
}
