/**
 * The names a client holds (protocol.md 4.1, 4.2), each with how it is registered: alone (with
 * `takeover` when the client asks for it, [SB-4.1-6]), in a responder pool (`shared`, 6.4), or `durable`
 * (a mailbox keeps what is sent to it while the client is away, 6.3). Every name is registered again, the
 * same way, on every new connection; a name released with `unregister()` is not.
 */
import { isName } from '../protocol/index.js';
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

export class Names {
  // Names come off the user and the wire: a Map, never a plain object (`__proto__` is a valid name).
  readonly #held = new Map<string, Registration>();
  readonly #host: NamesHost;
  readonly #takeover: boolean;

  constructor(host: NamesHost, initial: readonly Registration[], takeover: boolean) {
    this.#host = host;
    this.#takeover = takeover;
    for (const registration of initial) this.#held.set(registration.name, registration);
  }

  /** The names held, or to register again after a reconnect. */
  get names(): string[] {
    return [...this.#held.keys()];
  }

  /** Register `name` (with `options`) now if the client is ready, and on every connection from now on. */
  async register(name: string, options: NameOptions, origin: Error): Promise<void> {
    if (!isName(name)) throw new SwitchboardError('invalid_argument', `${JSON.stringify(name)} is not a valid name`, { origin });
    const problem = typeof options === 'object' && options !== null ? checkNameOptions(options) : 'options must be an object';
    if (problem !== undefined) throw new SwitchboardError('invalid_argument', `register ${name}: ${problem}`, { origin });
    const registration: Registration = { name, shared: options.shared === true, durable: options.durable === true };
    const held = this.#held.get(name);
    if (held !== undefined && (held.shared !== registration.shared || held.durable !== registration.durable)) {
      throw new SwitchboardError('invalid_argument', `"${name}" is already registered with other options: unregister it first`, { origin });
    }
    if (this.#host.closed()) throw new SwitchboardError('closed', 'the client is closed', { origin });
    this.#held.set(name, registration);
    if (!this.#host.isReady()) return this.#host.ready();
    try {
      await this.#register(registration, this.#host.current());
    } catch (error) {
      if ((error as SwitchboardError).code === 'disconnected') return this.#host.ready();
      if (this.#held.get(name) === registration) this.#held.delete(name);
      throw new SwitchboardError((error as SwitchboardError).code, (error as Error).message, { origin, from: name });
    }
  }

  /** Release `name` (every name when none is given); it is not registered again after a reconnect. */
  async unregister(name?: string): Promise<void> {
    if (name !== undefined && !(typeof name === 'string' && isName(name))) {
      throw new SwitchboardError('invalid_argument', `${JSON.stringify(name)} is not a valid name`);
    }
    const names = name === undefined ? [...this.#held.keys()] : [name];
    for (const each of names) this.#held.delete(each);
    if (!this.#host.isReady()) return;
    const conn = this.#host.current();
    await Promise.all(
      names.map((each) =>
        this.#host.control('unregister', each, JSON.stringify({ action: 'unregister', id: each }), conn).catch((error: SwitchboardError) => {
          // A dropped connection released the name anyway [SB-4.2-4].
          if (error.code !== 'disconnected') throw error;
        }),
      ),
    );
  }

  /** A new connection: register every name again, the same way. Rejects with the first refusal. */
  restore(conn: Connection): Promise<void> {
    return Promise.all([...this.#held.values()].map((registration) => this.#register(registration, conn))).then(() => undefined);
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
}
