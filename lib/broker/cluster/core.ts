/**
 * What the parts of a cluster node share (node.ts wires them): the options, the broker it serves, its
 * link to Redis, and its id and lease, which node.ts keeps.
 */
import type { AnswerFrame, Limits, ProgressFrame } from '../../protocol/wire.js';
import type { Logger } from '../options.js';
import type { NameRegistry } from '../name-registry.js';
import type { Payload, PendingTable } from '../pending.js';
import type { ServiceRegistry } from '../services.js';
import type { Session } from '../session.js';
import { ClusterUnavailable, type Link } from './link.js';

export interface ClusterOptions {
  /** The Redis URL (`redis://host:port`, `rediss://`, `unix:///path`). */
  readonly url: string;
  /** Prepended to every key and channel, so that clusters can share a Redis. */
  readonly prefix: string;
  /** How long a node's names outlive it (ms). */
  readonly leaseMs: number;
}

/** What a cluster node needs of its broker. */
export interface ClusterHost {
  readonly pending: PendingTable<Session>;
  /** The node's copy of every service's contract, and what it counted for each ([SB-14-5]). */
  readonly services: ServiceRegistry;
  readonly limits: Readonly<Limits>;
  readonly names: NameRegistry<Session>;
  /** The node's open connections. */
  readonly sessions: ReadonlySet<Session>;
  sessionById(id: string): Session | undefined;
  /** Handle what a connection on another node sent for a request held here, as if it had sent it here. */
  remoteFrame(session: Session, frame: AnswerFrame | ProgressFrame, raw: string | undefined): void;
  /** A `broadcast` made on another node: to every connection of this node that holds a name ([SB-4.8-1]); how many. */
  remoteBroadcast(payload: Payload): number;
  /** Write to `session`, which holds `name` already, what waits in the name's mailbox ([SB-6.3-1], naming.ts). */
  takeMailbox(session: Session, name: string): Promise<void>;
  /** Tell the sender of a queued message that it expired ([SB-6.3-2]). */
  expired(senderId: string, name: string, ref: string): void;
  /** Cork the sockets written to until this synchronous run ends: a batch of records leaves in one write per socket. */
  corkWrites(): void;
  /** Whether `name` is durable by the broker's `durableNames` patterns ([SB-16-6]). */
  durableByPattern(name: string): boolean;
  /** How many connections of this node hold a name. */
  readonly namedCount: number;
  fault(error: unknown): void;
  readonly logger: Logger;
}

/** A node as its parts see it. */
export interface NodeCore {
  readonly options: ClusterOptions;
  readonly host: ClusterHost;
  readonly link: Link;
  /** This node's id: the names it holds are recorded under it. It changes when the node fences itself. */
  id(): string;
  /** True when the node holds its lease; when the lease has run out, the node fences itself first. */
  checkLive(): boolean;
}

/** `work` on Redis, if `core` is live; ClusterUnavailable when it is not, or Redis does not answer. */
export async function whenLive<T>(core: NodeCore, work: () => Promise<T>): Promise<T> {
  if (!core.checkLive()) throw new ClusterUnavailable('this node holds no cluster lease');
  try {
    return await work();
  } catch (error) {
    throw new ClusterUnavailable('redis did not answer', { cause: error });
  }
}
