/**
 * The names a client holds (protocol.md 4.1, 4.2), each with how it is registered: alone (with
 * `takeover` when the client asks for it, [SB-4.1-6]), in a responder pool (`shared`, 6.4), or `durable`
 * (a mailbox keeps what is sent to it while the client is away, 6.3). Every name held is registered
 * again, the same way, on every new connection; a name released with `unregister()` is not.
 *
 * A name asked for with `register()` is held only once the broker confirms it. Until then it waits on
 * its own: it is asked for on the current connection, or on the next one after the names held, and a
 * refusal rejects that `register()` and drops the name. So a name someone else holds never joins the
 * names a new connection must get back, where its refusal would fail every connection.
 */
import { isName } from '../protocol/wire.js';
import type { Connection } from './connection.js';
import type { ControlAction } from './control.js';
import { SwitchboardError } from './errors.js';
import { checkNameOptions, type NameOptions, type Registration } from './options.js';

/** What the names need from the client. */
export interface NamesHost {
  /** True when the client is ready. */
  isReady(): boolean;
  /** True once the client is closed for good. */
  closed(): boolean;
  /** Resolves when the client is ready (at once if it is); rejects when it closes. */
  ready(): Promise<void>;
  /** The current connection, ready or not. */
  current(): Connection | undefined;
  /** Send a control frame on `conn` and wait for its reply. */
  control(action: ControlAction, key: string, text: string, conn: Connection | undefined): Promise<void>;
}

/** A `register()` the broker has not answered yet. */
interface Asked {
  readonly registration: Registration;
  /** The connection its `register` frame went out on, while it waits for the reply there. */
  conn: Connection | undefined;
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: SwitchboardError): void;
}

export class Names {
  // Names come off the user and the wire: Maps, never plain objects (`__proto__` is a valid name).
  readonly #held = new Map<string, Registration>();
  readonly #asked = new Map<string, Asked>();
  readonly #host: NamesHost;
  readonly #takeover: boolean;

  constructor(host: NamesHost, initial: readonly Registration[], takeover: boolean) {
    this.#host = host;
    this.#takeover = takeover;
    for (const registration of initial) this.#held.set(registration.name, registration);
  }

  /** The names held (or given to the constructor), which every new connection registers again. */
  get names(): string[] {
    return [...this.#held.keys()];
  }

  /** Register `name` (with `options`); resolves once the broker holds it. From then on, on every connection. */
  async register(name: string, options: NameOptions, origin: Error): Promise<void> {
    if (!isName(name)) throw new SwitchboardError('invalid_argument', `${JSON.stringify(name)} is not a valid name`, { origin });
    const problem = typeof options === 'object' && options !== null ? checkNameOptions(options) : 'options must be an object';
    if (problem !== undefined) throw new SwitchboardError('invalid_argument', `register ${name}: ${problem}`, { origin });
    const registration: Registration = { name, shared: options.shared === true, durable: options.durable === true };
    const known = this.#held.get(name) ?? this.#asked.get(name)?.registration;
    if (known !== undefined && (known.shared !== registration.shared || known.durable !== registration.durable)) {
      throw new SwitchboardError('invalid_argument', `"${name}" is already registered with other options: unregister it first`, { origin });
    }
    if (this.#host.closed()) throw new SwitchboardError('closed', 'the client is closed', { origin });
    const waited = this.#held.has(name) ? this.#host.ready() : (this.#asked.get(name) ?? this.#ask(registration)).done;
    try {
      await waited;
    } catch (error) {
      const { code, message, cause } = error as SwitchboardError;
      throw new SwitchboardError(code, message, { origin, from: name, ...(cause === undefined ? {} : { cause }) });
    }
  }

  /** Release `name` (every name when none is given); it is not registered again after a reconnect. */
  async unregister(name?: string): Promise<void> {
    if (name !== undefined && !(typeof name === 'string' && isName(name))) {
      throw new SwitchboardError('invalid_argument', `${JSON.stringify(name)} is not a valid name`);
    }
    const release: string[] = [];
    for (const each of name === undefined ? [...this.#held.keys(), ...this.#asked.keys()] : [name]) {
      const asked = this.#asked.get(each);
      this.#held.delete(each);
      this.#asked.delete(each);
      // Not held yet: should the broker confirm it after all, #attempt releases it then.
      if (asked !== undefined) asked.reject(new SwitchboardError('aborted', `"${each}" was unregistered before the broker confirmed it`));
      else release.push(each);
    }
    if (!this.#host.isReady()) return;
    const conn = this.#host.current();
    await Promise.all(release.map((each) => this.#release(each, conn)));
  }

  /**
   * A new connection: register every name held again, the same way, then the names asked for that wait.
   * Rejects with the first refusal of a name held; a refusal of a name asked for rejects its `register()`.
   */
  async restore(conn: Connection): Promise<void> {
    // Held names first: they keep their places should the connection's name limit be reached.
    const held = Promise.all([...this.#held.values()].map((registration) => this.#register(registration, conn)));
    const asked = [...this.#asked.values()].filter((each) => each.conn === undefined).map((each) => this.#attempt(each, conn));
    await held;
    await Promise.all(asked);
  }

  /** The client closed for good: every `register()` that waits rejects with `error`. */
  close(error: SwitchboardError): void {
    for (const asked of this.#asked.values()) asked.reject(error);
    this.#asked.clear();
  }

  /** Wait for `registration`: ask now if the client is ready, else on the connection that makes it ready. */
  #ask(registration: Registration): Asked {
    let resolve!: () => void;
    let reject!: (error: SwitchboardError) => void;
    const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    const asked: Asked = { registration, conn: undefined, done, resolve, reject };
    this.#asked.set(registration.name, asked);
    const askNow = () => {
      if (this.#asked.get(registration.name) === asked && asked.conn === undefined) void this.#attempt(asked, this.#host.current());
    };
    // Not ready: the connection being set up may have gathered its names already, so ask once it is ready
    // if it did not take this one. A close rejects `done` through close().
    if (this.#host.isReady()) askNow();
    else this.#host.ready().then(askNow, () => {});
    return asked;
  }

  /** Send the `register` of `asked` on `conn` and settle it with the reply; never rejects. */
  async #attempt(asked: Asked, conn: Connection | undefined): Promise<void> {
    const { name } = asked.registration;
    asked.conn = conn;
    try {
      await this.#register(asked.registration, conn);
    } catch (error) {
      if (this.#asked.get(name) !== asked) return;
      // The connection went before the broker answered, taking the name with it: the next one asks again.
      if ((error as SwitchboardError).code === 'disconnected') {
        asked.conn = undefined;
        return;
      }
      this.#asked.delete(name);
      asked.reject(error as SwitchboardError);
      return;
    }
    if (this.#asked.get(name) === asked) {
      this.#asked.delete(name);
      this.#held.set(name, asked.registration);
      asked.resolve();
    } else if (!this.#held.has(name)) {
      // Unregistered while the frame was out, perhaps while not ready, when no `unregister` went: send it now.
      await this.#release(name, conn).catch(() => {});
    }
  }

  #register(registration: Registration, conn: Connection | undefined): Promise<void> {
    const { name, shared, durable } = registration;
    const frame: Record<string, unknown> = { action: 'register', id: name };
    // A pool has no single holder to take over from.
    if (this.#takeover && !shared) frame.takeover = true;
    if (shared) frame.shared = true;
    if (durable) frame.durable = true;
    return this.#host.control('register', name, JSON.stringify(frame), conn);
  }

  #release(name: string, conn: Connection | undefined): Promise<void> {
    return this.#host.control('unregister', name, JSON.stringify({ action: 'unregister', id: name }), conn).catch((error: SwitchboardError) => {
      // A dropped connection released the name anyway [SB-4.2-4].
      if (error.code !== 'disconnected') throw error;
    });
  }
}
