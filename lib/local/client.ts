/**
 * `connectLocal(app, options)`: a lib/client `Client` for the processes of one app on one machine, with
 * no broker to start (README.md in this directory). The first process to bind the app's host lock runs
 * the broker in-process; the others connect to it over a private Unix socket; when the host dies, the
 * survivors elect another and come back with their names (host.ts, socket.ts). A process that gives no
 * name gets a slot: the lowest free number, `1`, `2`, ..., held by a lock that ends with the process, so
 * a restarted process gets its number back when it is the lowest free one.
 */
import WebSocket from 'ws';
import { resolveOptions as resolveBrokerOptions } from '../broker/options.js';
import { Client } from '../client/client.js';
import { SwitchboardError } from '../client/errors.js';
import type { ClientOptions, NameOptions } from '../client/options.js';
import { hostFor, type Host, type HostBrokerOptions } from './host.js';
import type { Lock, LockKind } from './locks.js';
import { MemberFile } from './members.js';
import { placeOf, type Place } from './place.js';
import { InboundGate, localWebSocket, type InnerWebSocketConstructor } from './socket.js';

export interface LocalOptions extends Omit<ClientOptions, 'WebSocket'> {
  /** The private directory of local mode (place.ts). Default: `$SWITCHBOARD_LOCAL_DIR`, `$XDG_RUNTIME_DIR/switchboard`, `<tmpdir>/switchboard-<uid>`. */
  dir?: string;
  /** How the host and the slots are elected (locks.ts). Default: `abstract` on Linux, `file` elsewhere. */
  lock?: LockKind;
  /** Options of the broker this process runs while it hosts (limits, auth, logger, ...). Default: LOCAL_BROKER_DEFAULTS. */
  broker?: HostBrokerOptions;
}

/**
 * Local mode's reconnect: a takeover takes a few milliseconds, so the retries that wait for the new host
 * stay a few milliseconds apart (5 ms, growing by half to 25 ms, less up to half of it at random). An
 * attempt costs a bind and a connect on this machine.
 */
export const LOCAL_RECONNECT = Object.freeze({ initialDelayMs: 5, maxDelayMs: 25, factor: 1.5, jitter: 0.5 });

/** The highest slot number; a process that finds every slot taken is refused with `limit_exceeded`. */
export const MAX_SLOTS = 1024;

const TAKEN: ReadonlySet<string> = new Set(['name_taken', 'name_conflict']);

/** Each client's inbound gate, for connectLocal to open (socket.ts). */
const gates = new WeakMap<LocalClient, InboundGate>();

export class LocalClient extends Client {
  /** The app this client belongs to. */
  readonly app: string;
  /** The slot number when this client was given no name (its name is `String(slot)`), else undefined. */
  readonly slot: number | undefined;
  readonly #host: Host;
  readonly #member: MemberFile;
  readonly #slotLock: Lock | undefined;
  readonly #endLease: () => Promise<void>;
  #released: Promise<void> | undefined;

  /** Made by connectLocal, which elects, claims the slot and waits for ready. */
  constructor(place: Place, host: Host, options: ClientOptions, Inner: InnerWebSocketConstructor, slot?: { n: number; lock: Lock }) {
    const gate = new InboundGate();
    super(`ws://local.switchboard/${place.app}`, { ...options, WebSocket: localWebSocket(host, Inner, gate) });
    this.app = place.app;
    this.slot = slot?.n;
    this.#host = host;
    gates.set(this, gate);
    this.#slotLock = slot?.lock;
    this.#endLease = host.lease();
    this.#member = new MemberFile(place);
    this.on('ready', () => this.#list());
    this.on('closed', () => void this.#release());
  }

  /** True while this process hosts the app's broker. */
  get hosting(): boolean {
    return this.#host.hosting;
  }

  override async register(name: string, options: NameOptions = {}): Promise<void> {
    await super.register(name, options);
    this.#list();
  }

  override async unregister(name?: string): Promise<void> {
    await super.unregister(name);
    this.#list();
  }

  /** Close as `Client.close()` does; when this was the process's last local client of a hosted app, hand the host over first. */
  override async close(): Promise<void> {
    await super.close();
    await this.#release();
  }

  /** List this client's names in the members directory, for a takeover (members.ts). */
  #list(): void {
    try {
      this.#member.write(this.names);
    } catch (error) {
      this.emit('error', new SwitchboardError('invalid_argument', `cannot list names in ${this.#host.place.membersDir}: ${(error as Error).message}`, { cause: error }));
    }
  }

  #release(): Promise<void> {
    this.#released ??= (async () => {
      this.#member.remove();
      await this.#slotLock?.release();
      await this.#endLease();
    })();
    return this.#released;
  }
}

/**
 * A ready local client of `app` (see LocalClient): named by `name`/`names`, or else given a slot. Rejects
 * with `invalid_argument` (a bad app, option or directory), `name_taken` (another member holds a given
 * name), `limit_exceeded` (no free slot), or as `Client.ready` does. `Inner` is the WebSocket class to
 * connect with (default: the `ws` package's; the Node entry point passes its own).
 */
export async function connectLocal(app: string, options: LocalOptions = {}, Inner: InnerWebSocketConstructor = WebSocket as unknown as InnerWebSocketConstructor): Promise<LocalClient> {
  const { dir, lock, broker = {}, ...clientOptions } = options;
  const place = placeOf(app, { ...(dir === undefined ? {} : { dir }), ...(lock === undefined ? {} : { lock }) });
  try {
    resolveBrokerOptions({ ...broker, socketPath: place.socketPath });
  } catch (error) {
    throw new SwitchboardError('invalid_argument', `broker: ${(error as Error).message}`, { cause: error });
  }
  const reconnect = clientOptions.reconnect;
  const resolved: ClientOptions = {
    ...clientOptions,
    reconnect: reconnect === false ? false : { ...LOCAL_RECONNECT, ...(typeof reconnect === 'object' ? reconnect : {}) },
  };
  const host = hostFor(place, broker);
  // Hold the host while clients come and go below: a refused slot must not close a broker just started.
  const endLease = host.lease();
  try {
    if (resolved.name !== undefined || (resolved.names !== undefined && resolved.names.length > 0)) {
      return await started(new LocalClient(place, host, resolved, Inner));
    }
    for (let n = 1; n <= MAX_SLOTS; n++) {
      const slotLock = await place.acquire(`slot.${n}`);
      if (slotLock === undefined) continue;
      let client: LocalClient;
      try {
        client = new LocalClient(place, host, { ...resolved, name: String(n) }, Inner, { n, lock: slotLock });
      } catch (error) {
        await slotLock.release();
        throw error;
      }
      try {
        return await started(client);
      } catch (error) {
        // A member that chose this number as its name: the slot is no use to anyone, try the next.
        if (!TAKEN.has((error as SwitchboardError).code)) throw error;
      }
    }
    throw new SwitchboardError('limit_exceeded', `every slot of ${app} from 1 to ${MAX_SLOTS} is taken`);
  } finally {
    await endLease();
  }
}

/** Ready, then handed over with its gate opened just after the caller's `await` goes on; closed if it fails. */
async function started(client: LocalClient): Promise<LocalClient> {
  try {
    await client.ready;
  } catch (error) {
    await client.close();
    throw error;
  }
  setImmediate(() => gates.get(client)?.open());
  return client;
}
