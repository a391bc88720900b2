/**
 * Authentication and authorization policy (protocol.md sections 4.5 and 12): who a connection is, and
 * what that identity may do. The broker asks two hooks, `authenticate` and `authorize`; `tokenPolicy`
 * builds both from a list of identities (a configuration file, see config.ts), and custom policies may
 * replace them.
 *
 * Safe defaults: a policy without `authenticate` accepts no token; without `authorize` an identity may do
 * exactly what its patterns allow; without `anonymous`, a connection must authenticate.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuthPermissions } from '../../protocol/wire.js';

/**
 * The keys of an identity's permissions, as the auth file has them (protocol.md section 12). `monitor` is
 * the monitor listener's (lib/monitor): its targets are `read` (GET) and `write` (POST).
 */
export type Permission = keyof AuthPermissions;

/**
 * Name patterns: `*` stands for any run of characters (also none); everything else is literal. For
 * `monitor`, the access granted: `["read"]` or `["read", "write"]`.
 */
export type Permissions = Readonly<Partial<Record<Permission, readonly string[]>>>;

export interface Identity {
  readonly id: string;
  readonly permissions: Permissions;
}

export interface AuthPolicy {
  /** The identity of a token, or undefined when the token is not valid. */
  authenticate?(token: string, info: { remoteAddress: string }): Identity | undefined | Promise<Identity | undefined>;
  /** Whether `identity` may do `permission` on `target` (a name, a topic, or for `subscribe` a filter as written, [SB-12-4]). */
  authorize?(identity: Identity, permission: Permission, target: string): boolean;
  /** The identity of connections that do not authenticate (and of every legacy client); none: they are refused. */
  anonymous?: Identity;
}

/** The identity of every connection of a broker without a policy: it may do anything. */
export const OPEN_IDENTITY: Identity = Object.freeze({
  id: 'anonymous',
  permissions: Object.freeze({ register: ['*'], send: ['*'], subscribe: ['*'], publish: ['*'] }),
});

const compiled = new WeakMap<readonly string[], (target: string) => boolean>();

/**
 * A test for names matching any of `patterns` [SB-12-3]: a pattern matches the whole name or topic, `*`
 * standing for any run of characters (none and dots included), every other character for itself; no
 * pattern matches nothing.
 *
 * [SB-12-4] A subscription's filter is matched as a string, so its `*` and `>` segments can only be
 * covered by a pattern's `*`, which covers whatever they stand for. A `>` written in a pattern matches
 * nothing: no name or topic holds one, and letting it match a filter's `>` would allow `news.>` by the
 * pattern `news.>`, which allows no topic below `news`.
 */
export function patternMatcher(patterns: readonly string[]): (target: string) => boolean {
  if (patterns.length === 0) return () => false;
  const alternatives = patterns.map((p) => p.split('*').map(literalRegExp).join('.*'));
  const regexp = new RegExp(`^(?:${alternatives.join('|')})$`);
  return (target) => regexp.test(target);
}

/** True when `target` matches one of the identity's patterns for `permission`; an absent key allows nothing [SB-12-3]. */
export function allowedByPatterns(identity: Identity, permission: Permission, target: string): boolean {
  const patterns = identity.permissions[permission];
  if (patterns === undefined) return false;
  let matches = compiled.get(patterns);
  if (matches === undefined) compiled.set(patterns, (matches = patternMatcher(patterns)));
  return matches(target);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A run of a pattern between its `*`s: each character itself, and `>` nothing ([SB-12-4]). */
function literalRegExp(text: string): string {
  return text.split('>').map(escapeRegExp).join('(?!)');
}

/** [SB-12-2] The hash an auth file stores for a token: SHA-256 of its UTF-8 bytes (as hex: 64 lowercase digits). */
export function sha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export interface TokenIdentity extends Identity {
  /** SHA-256 of the token, as 64 hex digits; the token itself is never stored. */
  readonly tokenSha256: string;
}

/**
 * A policy from identities with hashed tokens [SB-12-2]. The presented token is hashed and compared with
 * every stored hash in constant time, without stopping at a match, so timing tells nothing about either.
 */
export function tokenPolicy(identities: readonly TokenIdentity[], anonymous?: Identity): AuthPolicy {
  const hashes = identities.map((identity) => ({ identity, hash: Buffer.from(identity.tokenSha256, 'hex') }));
  return {
    authenticate(token) {
      const presented = sha256(token);
      let found: Identity | undefined;
      for (const { identity, hash } of hashes) {
        if (timingSafeEqual(presented, hash) && found === undefined) found = identity;
      }
      return found;
    },
    authorize: allowedByPatterns,
    anonymous,
  };
}
