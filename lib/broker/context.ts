/**
 * What a handler may touch: the limits, the name registry, the pending-request table, and the broker's
 * events. Handlers get it as their first argument; the broker owns the one instance.
 */
import type { ErrorCode, Limits } from '../protocol/wire.js';
import type { Permission } from './auth/policy.js';
import type { ClusterNode } from './cluster/node.js';
import type { Authenticated } from './hooks.js';
import type { MailboxStore, QueuedItem } from './mailbox.js';
import type { BrokerMetrics } from './metrics.js';
import type { NameDirectory } from './name-directory.js';
import type { NameRegistry } from './name-registry.js';
import type { TopicTable } from './topics.js';
import type { PendingTable } from './pending.js';
import type { ServiceRegistry } from './services.js';
import type { Session } from './session.js';

export interface BrokerContext {
  readonly limits: Limits;
  /** Who holds each name here (in cluster mode, this node's local copy). */
  readonly names: NameRegistry<Session>;
  /** Who may hold each name: claims are decided here, atomically (name-directory.ts). */
  readonly directory: NameDirectory<Session>;
  readonly pending: PendingTable<Session>;
  readonly topics: TopicTable<Session>;
  readonly mailboxes: MailboxStore;
  /** The announced service contracts and their stats (services.ts, protocol.md section 14). */
  readonly services: ServiceRegistry;
  /** This node of the cluster (protocol.md section 16), or undefined for the single-process broker. */
  readonly cluster: ClusterNode | undefined;
  /** The broker's counters (metrics.ts). */
  readonly metrics: BrokerMetrics;
  /** Every connection that holds at least one name. */
  namedSessions(): Iterable<Session>;
  /** False while the broker shuts down: new requests are refused with `shutting_down` ([SB-2-6]). */
  readonly acceptingRequests: boolean;
  /** Whether the session's identity may do `permission` on `target` ([SB-4.5-3]); a failing hook denies. */
  authorize(session: Session, permission: Permission, target: string): boolean;
  /** The identity of a token, per the broker's policy; settles within `authTimeoutMs` (hooks.ts). */
  authenticate(session: Session, token: string): Authenticated | Promise<Authenticated>;
  /** The open connection with this id, if any. */
  sessionById(id: string): Session | undefined;
  /** Tell the broker's listeners (and log) that a `register` or `auth` was refused. */
  refused(session: Session, code: ErrorCode, subject: string): void;
  /** A fault inside the broker or one of its hooks: reported, never thrown. */
  fault(error: unknown): void;
  /**
   * Take a name (free, or a pool's) for `session`, tell it (`registered`), and hand it its mailbox:
   * `queued`, when a cluster node took it from Redis ahead, or what the store gives at once.
   */
  takeName(session: Session, name: string, shared: boolean, ids?: { ref?: string }, queued?: readonly QueuedItem[]): void;
  /**
   * Release a name `session` holds, end the deliveries it was reached by, and tell it if it is still open.
   * Unless `explicit` (an unregister), a durable name left without holder keeps a mailbox.
   */
  releaseName(session: Session, name: string, explicit: boolean, ids?: { ref?: string }): void;
  /** Whether `name` is durable by the broker's `durableNames` patterns, whatever its `register` said. */
  durableByPattern(name: string): boolean;
}
