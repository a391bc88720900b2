/**
 * The authentication configuration file (`switchboard serve --auth FILE`, protocol.md section 12): loading
 * it into a policy. Its schema is the protocol's (lib/protocol/auth-config.ts), checked by the validator
 * generated from it. A missing, empty or malformed file, or one that would admit no one, is an error with
 * a clear message: the broker refuses to start rather than fall open [SB-12-1].
 */
import { readFileSync } from 'node:fs';
import { AUTH_CONFIG_SCHEMA, checkAuthConfig, schemaErrors, type AuthConfig } from '../../protocol/wire.js';
import { tokenPolicy, type AuthPolicy } from './policy.js';

export type { AuthConfig };

/** Build a policy from a parsed configuration; throws an Error naming every problem [SB-12-1]. */
export function policyFromConfig(config: unknown, source = 'auth configuration'): AuthPolicy {
  if (!checkAuthConfig(config)) {
    const problems = schemaErrors(AUTH_CONFIG_SCHEMA, config).map((e) => `${e.instancePath || '/'} ${e.message}`);
    throw new Error(`${source} is malformed: ${problems.join('; ')}`);
  }
  if (config.identities.length === 0 && config.anonymous === undefined) {
    throw new Error(`${source} admits no one: it has no identities and no anonymous identity`);
  }
  const ids = new Set<string>();
  const hashes = new Set<string>();
  for (const identity of config.identities) {
    // [SB-12-1] ids and token hashes are unique: a hash shared by two identities would make one of them unreachable.
    if (ids.has(identity.id)) throw new Error(`${source}: identity "${identity.id}" appears twice`);
    if (hashes.has(identity.tokenSha256)) throw new Error(`${source}: identity "${identity.id}" shares a token with another`);
    ids.add(identity.id);
    hashes.add(identity.tokenSha256);
  }
  return tokenPolicy(config.identities, config.anonymous);
}

/** Read and load a configuration file; every failure names the file and what is wrong with it. */
export function loadAuthConfig(path: string): AuthPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read auth configuration ${path}: ${(error as Error).message}`);
  }
  if (text.trim() === '') throw new Error(`auth configuration ${path} is empty`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`auth configuration ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return policyFromConfig(parsed, `auth configuration ${path}`);
}
