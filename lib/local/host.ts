/**
 * Hosting an app of local mode: in each process, one Host per place (place.ts), shared by the local
 * clients of that app in the process. `tryHost()` is one round of the election: whoever binds the app's
 * host lock (locks.ts) runs the app's Broker in-process, listening on the app's socket; whoever does
 * not, connects to it. Every connection attempt of every local client starts with a round (socket.ts),
 * so when the host dies its survivors, reconnecting, race for the lock: one wins and hosts, the others
 * connect to it. A new host first removes the socket file the dead one left (only the lock holder
 * touches it), and opens a mailbox for every name a live member lists, but not for the names of the
 * previous host, which is dead (members.ts).
 *
 * The broker lives while a local client of the process holds a lease. When the last one ends, the
 * broker closes (its clients hear 1001, pending requests end `shutting_down`) and only then is the lock
 * released: closing the server removes its socket file, which must not happen to the next host's.
 */
import { unlinkSync } from 'node:fs';
import { Broker } from '../broker/broker.js';
import type { BrokerOptions } from '../broker/options.js';
import type { Lock } from './locks.js';
import { clearHostPid, liveMemberNames, previousHostPid, writeHostPid } from './members.js';
import type { Place } from './place.js';

/** The broker options a local client may set: not where it listens, which local mode decides. */
export type HostBrokerOptions = Omit<BrokerOptions, 'host' | 'port' | 'socketPath' | 'path' | 'tls'>;

/**
 * Local mode's broker defaults, where they differ from a served broker's: a host that closes hands over
 * at once rather than after a grace (`shutdownGraceMs` 0); a mailbox keeps what it holds for 2 s
 * (`maxMailboxAgeMs` 2000), which bounds how long the mailboxes of a takeover wait for a member that
 * does not come back.
 */
export const LOCAL_BROKER_DEFAULTS = Object.freeze({ shutdownGraceMs: 0, maxMailboxAgeMs: 2000 });

const hosts = new Map<string, Host>();

/** This process's Host of `place` (made on first use; the first caller's broker options hold). */
export function hostFor(place: Place, brokerOptions: HostBrokerOptions = {}): Host {
  let host = hosts.get(place.key);
  if (host === undefined) {
    host = new Host(place, brokerOptions);
    hosts.set(place.key, host);
  }
  return host;
}

export class Host {
  readonly place: Place;
  readonly #brokerOptions: HostBrokerOptions;
  #leases = 0;
  #broker: Broker | undefined;
  #lock: Lock | undefined;
  #since: number | undefined;
  #trying: Promise<void> | undefined;
  #ended = false;

  constructor(place: Place, brokerOptions: HostBrokerOptions) {
    this.place = place;
    this.#brokerOptions = brokerOptions;
  }

  /** True while this process runs the app's broker. */
  get hosting(): boolean {
    return this.#broker !== undefined;
  }

  /** When this process started hosting (ms since the epoch), while it does. */
  get hostingSince(): number | undefined {
    return this.#since;
  }

  /** Keep the Host (and its broker) while the returned release function has not been called. */
  lease(): () => Promise<void> {
    this.#leases++;
    let released: Promise<void> | undefined;
    return () => {
      released ??= this.#leases-- === 1 ? this.#end() : Promise.resolve();
      return released;
    };
  }

  /** One round of the election: resolves hosting, or having found that another process hosts. */
  tryHost(): Promise<void> {
    if (this.#broker !== undefined || this.#ended) return Promise.resolve();
    this.#trying ??= this.#try().finally(() => (this.#trying = undefined));
    return this.#trying;
  }

  async #try(): Promise<void> {
    const lock = await this.place.acquire('host');
    if (lock === undefined) return;
    if (this.#ended) return lock.release();
    try {
      if (process.platform !== 'win32') removeStaleSocket(this.place.socketPath);
      const options = this.#brokerOptions;
      const broker = new Broker({
        shutdownGraceMs: LOCAL_BROKER_DEFAULTS.shutdownGraceMs,
        ...options,
        limits: { maxMailboxAgeMs: LOCAL_BROKER_DEFAULTS.maxMailboxAgeMs, ...options.limits },
        socketPath: this.place.socketPath,
      });
      const now = Date.now();
      const previous = previousHostPid(this.place);
      for (const name of liveMemberNames(this.place, previous === process.pid ? undefined : previous)) broker.mailboxes.open(name, now);
      writeHostPid(this.place);
      await broker.listen();
      this.#broker = broker;
      this.#lock = lock;
      this.#since = Date.now();
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** The last lease ended: close the broker, then give up the lock. */
  async #end(): Promise<void> {
    this.#ended = true;
    if (hosts.get(this.place.key) === this) hosts.delete(this.place.key);
    await this.#trying?.catch(() => {});
    const broker = this.#broker;
    const lock = this.#lock;
    this.#broker = undefined;
    this.#lock = undefined;
    this.#since = undefined;
    try {
      await broker?.close();
      if (broker !== undefined) clearHostPid(this.place);
    } finally {
      await lock?.release();
    }
  }
}

function removeStaleSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
