/**
 * Who holds each name in the cluster (protocol.md section 16): claims and releases in Redis (scripts.ts
 * CLAIM, JOIN, RELEASE, LOOKUP), the holders on other nodes of names looked up before, and the members of
 * the pools looked up lately, for `retry`. A release Redis did not take is tried again while the node is
 * live, so that a name whose holder left during a short outage does not stay held by a connection that
 * is gone.
 */
import { CLOSE_CODES } from '../../protocol/wire.js';
import type { Claim, Claimant, ClaimRequest, NameDirectory } from '../name-directory.js';
import type { Session } from '../session.js';
import { whenLive, type NodeCore } from './core.js';
import type { ClusterMailboxes } from './mailboxes.js';
import type { RemoteSession } from './remote.js';
import { CLAIM, JOIN, LOOKUP, RELEASE, parseHolder, type Holder } from './scripts.js';

/**
 * Who holds a name elsewhere: its holder on another node, or a pool's members of every node in turn
 * order; or nobody, and it has a mailbox ([SB-16-6]).
 */
export interface Holders {
  readonly pool: boolean;
  readonly members: readonly Session[];
  /** A pool's members that their nodes marked busy: at `maxInFlightPerMember` ([SB-6.4-1], busy.ts). */
  readonly busy?: ReadonlySet<Session>;
  readonly mailbox?: true;
}

/** What the names of a node need of the node besides its core. */
export interface ClaimsHost {
  readonly mailboxes: ClusterMailboxes;
  /** The RemoteSession of a holder on another node. */
  remote(holder: Holder): RemoteSession;
  closeRemote(node: string, conn: string, code: number, reason: string): void;
}

/** A release to try again: the connection that let go of `name`, under node id `node`. */
interface Unreleased {
  readonly session: Claimant;
  readonly name: string;
  readonly node: string;
  readonly keepMailbox: boolean;
}

/** How many releases are kept to try again; past it the oldest goes (its name frees when this node's lease ends). */
const MAX_UNRELEASED = 100_000;
/** How many pools' member lists are kept for `retry`; past it the least recently looked up goes. */
const MAX_POOLS_KEPT = 10_000;
/** How many names' holders on other nodes are cached; past it the oldest is forgotten. */
const MAX_CACHED_HOLDERS = 100_000;

export class ClusterClaims implements NameDirectory {
  readonly #core: NodeCore;
  readonly #host: ClaimsHost;
  /**
   * The holders on other nodes of names looked up before, until they release them (each node tells all).
   * Only holders are cached, never "nobody": a name not here is looked up in Redis, so that a request is
   * never told `no_responders` for a name already registered elsewhere ([SB-16-2]).
   */
  readonly #holders = new Map<string, RemoteSession>();
  /**
   * The members of every node of the pools looked up lately, for `retry` ([SB-6.4-2]), without those their
   * nodes had marked busy then ([SB-6.4-1]): every request to a pool looks it up, so that is recent.
   */
  readonly #pools = new Map<string, readonly Session[]>();
  /** Releases Redis did not take (it was away), oldest first. */
  readonly #unreleased = new Map<string, Unreleased>();

  constructor(core: NodeCore, host: ClaimsHost) {
    this.#core = core;
    this.#host = host;
  }

  /** Claim `name` for `session` in the cluster ([SB-3-2], [SB-4.1-6]), or join its pool ([SB-6.4-1]). */
  async claim(session: Claimant, name: string, { takeover, shared, durable }: ClaimRequest): Promise<Claim> {
    const { link, options } = this.#core;
    if (!this.#core.checkLive()) return { kind: 'unavailable' };
    const identity = session.authenticated ? (session.identity?.id ?? '') : '';
    const id = this.#core.id();
    const keys = [link.key('name:', name), link.key('pool:', name)];
    let reply: string[];
    try {
      if (shared) reply = (await link.eval(JOIN, keys, [options.prefix, this.member(session)])) as string[];
      else {
        const args = [options.prefix, id, session.id, session.dialect, identity, takeover ? '1' : '0', name, durable ? '1' : '0'];
        reply = (await link.eval(CLAIM, [...keys, link.key('dur:', name)], args)) as string[];
      }
    } catch {
      return { kind: 'unavailable' };
    }
    const [kind, node, conn] = reply;
    if (kind === 'ok') return { kind };
    if (kind === 'over') {
      if (node !== id) this.#host.closeRemote(node, conn, CLOSE_CODES.takenOver, `taken over: ${name}`);
      return { kind: 'over', node, conn, here: node === id };
    }
    return { kind: kind as 'held' | 'taken' | 'conflict' };
  }

  /** How `session` is recorded as a member of a pool. */
  member(session: Pick<Claimant, 'id' | 'dialect'>, node = this.#core.id()): string {
    return `${node}|${session.id}|${session.dialect}`;
  }

  /**
   * RELEASE; resolves true when nobody holds the name any more, so that its contract went ([SB-14-1]).
   * When Redis does not take it, it is tried again once Redis answers (retryReleases).
   */
  release(session: Claimant, name: string, keepMailbox: boolean, node = this.#core.id()): Promise<boolean> {
    const { link } = this.#core;
    const mailbox = this.#host.mailboxes.releaseArgs(name, keepMailbox);
    const keys = [link.key('name:', name), link.key('pool:', name), ...mailbox.keys, link.key('dur:', name), link.key('svc:', name), link.key('svcs', '')];
    const release = `${session.id}|${name}`;
    return link.eval(RELEASE, keys, [node, session.id, this.member(session, node), ...mailbox.args]).then(
      (reply) => {
        this.#unreleased.delete(release);
        return (reply as number[])[0] === 1;
      },
      () => {
        this.#unreleased.delete(release); // re-inserted: the oldest comes first
        this.#unreleased.set(release, { session, name, node, keepMailbox });
        if (this.#unreleased.size > MAX_UNRELEASED) this.#unreleased.delete(this.#unreleased.keys().next().value as string);
        return false;
      },
    );
  }

  /** Try again the releases Redis did not take; one the connection took back since stays with it. */
  retryReleases(): void {
    for (const [key, { session, name, node, keepMailbox }] of this.#unreleased) {
      if (session.names.has(name)) this.#unreleased.delete(key);
      else void this.release(session, name, keepMailbox, node);
    }
  }

  /** The connection on another node that holds `name`, when cached; undefined: look it up. */
  cached(name: string): Session | undefined {
    if (!this.#core.checkLive()) return undefined;
    const session = this.#holders.get(name);
    return session?.isOpen === true ? session : undefined;
  }

  /**
   * The connections that hold `names`, by name: the holder on another node, or a pool's members on every
   * node, the one whose turn it is first ([SB-6.4-1]). A name held nowhere is absent. Throws
   * ClusterUnavailable when Redis cannot say: a request is never told `no_responders` for a name that may
   * be held ([SB-6-6]).
   */
  async lookup(names: readonly string[]): Promise<Map<string, Holders>> {
    const { link, options, host } = this.#core;
    const keys = names.flatMap((name) => ['name:', 'pool:', 'rr:', 'box:', 'dur:', 'busy:'].map((kind) => link.key(kind, name)));
    const args = [options.prefix, String(Date.now()), String(host.limits.maxMailboxes), ...names];
    const reply = (await whenLive(this.#core, () => link.eval(LOOKUP, keys, args))) as Array<string | string[]>;
    const id = this.#core.id();
    const found = new Map<string, Holders>();
    reply.forEach((records, index) => {
      const name = names[index];
      if (records === 'mailbox') {
        found.set(name, { pool: false, members: [], mailbox: true });
        return;
      }
      if (typeof records === 'string') {
        // An exclusive holder: one here is in the local registry already.
        const holder = records === '' ? undefined : parseHolder(records);
        if (holder === undefined || holder.node === id) return;
        const session = this.#host.remote(holder);
        found.set(name, { pool: false, members: [session] });
        this.#cache(name, session);
        return;
      }
      // A pool's members in turn order, a busy one's record marked '!'; never cached, as the turn moves on.
      const members: Session[] = [];
      let busy: Set<Session> | undefined;
      for (const record of records) {
        const marked = record.startsWith('!');
        const holder = parseHolder(marked ? record.slice(1) : record);
        if (holder === undefined) continue;
        const local = holder.node === id ? host.sessionById(holder.conn) : undefined;
        const member = holder.node !== id ? this.#host.remote(holder) : local?.names.has(name) === true ? local : undefined;
        if (member === undefined) continue;
        members.push(member);
        if (marked) (busy ??= new Set()).add(member);
      }
      if (members.length > 0) found.set(name, busy === undefined ? { pool: true, members } : { pool: true, members, busy });
      this.#pools.delete(name);
      this.#pools.set(name, busy === undefined ? members : members.filter((member) => !busy.has(member)));
      if (this.#pools.size > MAX_POOLS_KEPT) this.#pools.delete(this.#pools.keys().next().value as string);
    });
    return found;
  }

  /** `member` joined pool `name`: a pool known here adds it to the members a retry may go to. */
  joined(name: string, member: Session): void {
    const members = this.#pools.get(name);
    if (members !== undefined && !members.includes(member)) this.#pools.set(name, [...members, member]);
  }

  /**
   * The members of pool `name` on every node that were not busy when it was last looked up: where a
   * `retry` may go next ([SB-6.4-2]).
   */
  members(name: string): readonly Session[] | undefined {
    return this.#pools.get(name);
  }

  /** `session` no longer holds `name` (its node said so). */
  uncache(name: string, session: RemoteSession): void {
    if (this.#holders.get(name) !== session) return;
    this.#holders.delete(name);
    session.cachedNames.delete(name);
  }

  /** `session` is gone: no name is held by it any more. */
  forget(session: RemoteSession): void {
    for (const name of session.cachedNames) this.uncache(name, session);
  }

  /** Forget every holder elsewhere: what was said while this node was away is lost, so ask again. */
  forgetHolders(): void {
    for (const session of this.#holders.values()) session.cachedNames.clear();
    this.#holders.clear();
  }

  #cache(name: string, session: RemoteSession): void {
    const before = this.#holders.get(name);
    if (before !== undefined) before.cachedNames.delete(name);
    this.#holders.set(name, session);
    session.cachedNames.add(name);
    if (this.#holders.size > MAX_CACHED_HOLDERS) {
      const [oldest, holder] = this.#holders.entries().next().value as [string, RemoteSession];
      this.uncache(oldest, holder);
    }
  }
}
