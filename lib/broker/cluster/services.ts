/**
 * Services in a cluster ([SB-16-7]): a service's contract is one for the whole cluster, kept in Redis
 * (scripts.ts ANNOUNCE, SERVICES) and known to every node, which learns it when it is announced or when
 * it starts; what each node counted for a service is asked of every node when the services are listed.
 */
import type { AnnounceFrame } from '../../protocol/wire.js';
import type { RawStats } from '../services.js';
import { whenLive, type NodeCore } from './core.js';
import type { Peers } from './peers.js';
import { ANNOUNCE, SERVICES } from './scripts.js';

/** A service in the cluster's listing: how many connections hold its name, and its contract. */
export interface ClusterService {
  readonly members: number;
  readonly contract: AnnounceFrame;
  /** What the other nodes counted for it. */
  readonly elsewhere: RawStats[];
}

export class ClusterServices {
  readonly #core: NodeCore;
  readonly #peers: Peers;

  constructor(core: NodeCore, peers: Peers) {
    this.#core = core;
    this.#peers = peers;
  }

  /**
   * Keep a service's contract in the cluster: every node knows it when this resolves (so the stats of a
   * call from any node count). Resolves with the version kept instead when the pool's other members serve
   * another ([SB-14-1]); throws ClusterUnavailable.
   */
  async announce(frame: AnnounceFrame): Promise<string | undefined> {
    const { link, options, host } = this.#core;
    const contract: AnnounceFrame = { action: 'announce', id: frame.id, version: frame.version, methods: frame.methods };
    if (frame.description !== undefined) contract.description = frame.description;
    const body = JSON.stringify(contract);
    const keys = [link.key('pool:', frame.id), link.key('svc:', frame.id), link.key('svcs', '')];
    const kept = (await whenLive(this.#core, () => link.eval(ANNOUNCE, keys, [options.prefix, frame.version, body, frame.id]))) as string;
    if (kept !== '') return kept;
    host.services.announce(contract);
    await this.#peers.tellAllAndWait({ t: 'svc', o: this.#core.id(), id: 0 }, body);
    return undefined;
  }

  /** The services `names` (or all), each with its holders on every node and what the other nodes counted for it. Throws ClusterUnavailable. */
  async list(names: readonly string[] | undefined): Promise<Map<string, ClusterService>> {
    const found = await whenLive(this.#core, () => this.#read(names ?? []));
    if (found.size === 0) return found;
    const { replies } = await this.#peers.tellAllAndWait({ t: 'stats', o: this.#core.id(), id: 0, n: [...found.keys()] });
    for (const reply of replies) {
      for (const [name, raw] of JSON.parse(reply) as Array<[string, RawStats]>) found.get(name)?.elsewhere.push(raw);
    }
    return found;
  }

  /** Learn every contract of the cluster (at start, and after Redis came back). */
  async load(): Promise<void> {
    await this.#read([]);
  }

  /** A name nobody holds any more has no contract ([SB-14-1]); one held here again keeps the new one. */
  unserved(name: string): void {
    const { host } = this.#core;
    if (host.names.entry(name) === undefined) host.services.drop(name);
  }

  /** Another node announced a contract (`svc`): learn it. */
  announced(body: string): void {
    this.#core.host.services.announce(JSON.parse(body) as AnnounceFrame);
  }

  /** What this node counted for the services `names`, for the node that lists them (`stats`). */
  counted(names: readonly string[]): string {
    const counted: Array<[string, RawStats]> = [];
    for (const name of names) {
      const raw = this.#core.host.services.raw(name);
      if (raw !== undefined) counted.push([name, raw]);
    }
    return JSON.stringify(counted);
  }

  /**
   * The services `names` (none: all) as Redis lists them; this node's copy learns each contract it has not
   * heard of yet (it started later, or the record is on its way).
   */
  async #read(names: readonly string[]): Promise<Map<string, ClusterService>> {
    const { link, options, host } = this.#core;
    const reply = (await link.eval(SERVICES, [link.key('svcs', '')], [options.prefix, ...names])) as string[];
    const found = new Map<string, ClusterService>();
    for (let i = 0; i < reply.length; i += 3) {
      const contract = JSON.parse(reply[i + 2]) as AnnounceFrame;
      if (host.services.version(reply[i]) !== contract.version) host.services.announce(contract);
      found.set(reply[i], { members: Number(reply[i + 1]), contract, elsewhere: [] });
    }
    return found;
  }
}
