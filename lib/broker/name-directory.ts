/**
 * Who may hold each name (protocol.md sections 4.1, 6.4 and 16): the one place that decides a `register`,
 * atomically. The single broker decides in its memory (MemoryNameDirectory, over its name registry); a
 * cluster node decides in Redis (cluster/claims.ts), and its registry is then the node's local copy. Both
 * pass one contract suite (test/broker/name-directory.test.ts).
 */
import type { Dialect } from '../protocol/dialects.js';
import type { NameEntry, NameRegistry } from './name-registry.js';

/** What the directory knows of a connection that claims a name (a Session is one). */
export interface Claimant {
  readonly id: string;
  readonly dialect: Dialect;
  /** Whether it proved `identity` with a token: only then may it take a name over ([SB-4.1-6]). */
  readonly authenticated: boolean;
  readonly identity?: { readonly id: string } | undefined;
  /** The names it holds, as it sees them. */
  readonly names: ReadonlySet<string>;
}

export interface ClaimRequest {
  /** Take the name from a holder of the same authenticated identity ([SB-4.1-6]). */
  readonly takeover: boolean;
  /** Join the name's responder pool ([SB-6.4-1]). */
  readonly shared: boolean;
  /** Keep a mailbox for the name if its holder's broker node dies ([SB-16-6]); the memory directory ignores it. */
  readonly durable: boolean;
}

/**
 * A claim's result. `ok`: the claimant holds the name now (what waited in its mailbox is the mailbox
 * store's to give: naming.ts). `over`: it took the name from connection `conn` of node `node` (`here`: of
 * this broker). `held`: it held the name already.
 */
export type Claim =
  | { kind: 'ok' | 'held' | 'taken' | 'conflict' | 'unavailable' }
  | { kind: 'over'; node: string; conn: string; here: boolean };

export interface NameDirectory<C extends Claimant = Claimant> {
  /** Claim `name` for `claimant`, take it over, or join its pool, or say why not; all at once. */
  claim(claimant: C, name: string, request: ClaimRequest): Claim | Promise<Claim>;
  /** `claimant` lets go of `name`; true when nobody holds the name any more. */
  release(claimant: C, name: string, keepMailbox: boolean): boolean | Promise<boolean>;
}

/**
 * What a `register` would get from a registry whose entry for the name is `entry`: the single broker's
 * answer, and a cluster node's quick refusal from its local copy before it asks Redis.
 */
export function verdict<C extends Claimant>(entry: NameEntry<C> | undefined, claimant: C, request: ClaimRequest): Claim {
  if (entry === undefined) return { kind: 'ok' };
  if (entry.shared !== request.shared) return { kind: 'conflict' }; // [SB-6.4-1] the modes never mix
  if (entry.shared) return entry.members.includes(claimant) ? { kind: 'held' } : { kind: 'ok' };
  const { holder } = entry;
  if (holder === claimant) return { kind: 'held' };
  if (request.takeover && sameIdentity(holder, claimant)) return { kind: 'over', node: '', conn: holder.id, here: true }; // [SB-4.1-6]
  return { kind: 'taken' }; // [SB-4.1-2]
}

/** Both proved the same identity with a token; anonymous connections never match ([SB-4.1-6]). */
function sameIdentity(a: Claimant, b: Claimant): boolean {
  return a.authenticated && b.authenticated && a.identity?.id === b.identity?.id;
}

/** The single broker's directory: its name registry, decided synchronously. */
export class MemoryNameDirectory<C extends Claimant> implements NameDirectory<C> {
  readonly #registry: NameRegistry<C>;

  constructor(registry: NameRegistry<C>) {
    this.#registry = registry;
  }

  claim(claimant: C, name: string, request: ClaimRequest): Claim {
    const entry = this.#registry.entry(name);
    const claim = verdict(entry, claimant, request);
    if (claim.kind === 'over' && entry?.shared === false) this.#registry.release(name, entry.holder);
    if (claim.kind === 'ok' || claim.kind === 'over') this.#registry.take(name, claimant, request.shared);
    return claim;
  }

  release(claimant: C, name: string): boolean {
    this.#registry.release(name, claimant);
    return this.#registry.entry(name) === undefined;
  }
}
