/**
 * The authentication configuration file (`switchboard serve --auth FILE`): its schema, and loading it
 * into a policy. A missing, empty or malformed file, or one that would admit no one, is an error with a
 * clear message: the broker refuses to start rather than fall open.
 */
import { readFileSync } from 'node:fs';
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { tokenPolicy, type AuthPolicy } from './policy.js';

const Patterns = Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 1000 });

const PermissionsSchema = Type.Object(
  {
    register: Type.Optional(Patterns),
    send: Type.Optional(Patterns),
    subscribe: Type.Optional(Patterns),
    publish: Type.Optional(Patterns),
    monitor: Type.Optional(
      Type.Array(Type.Union([Type.Literal('read'), Type.Literal('write')]), {
        uniqueItems: true,
        maxItems: 2,
        description: 'Access to the monitor listener: "read" for GET, "write" for POST (kick).',
      }),
    ),
  },
  { additionalProperties: false },
);

export const AuthConfig = Type.Object(
  {
    identities: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1, maxLength: 128 }),
          tokenSha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the token, hex' }),
          permissions: PermissionsSchema,
        },
        { additionalProperties: false },
      ),
    ),
    anonymous: Type.Optional(
      Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }), permissions: PermissionsSchema }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
export type AuthConfig = Static<typeof AuthConfig>;

const check = Compile(AuthConfig);

/** Build a policy from a parsed configuration; throws an Error naming every problem. */
export function policyFromConfig(config: unknown, source = 'auth configuration'): AuthPolicy {
  if (!check.Check(config)) {
    const problems = check.Errors(config).map((e) => `${e.instancePath || '/'} ${e.message}`);
    throw new Error(`${source} is malformed: ${problems.join('; ')}`);
  }
  if (config.identities.length === 0 && config.anonymous === undefined) {
    throw new Error(`${source} admits no one: it has no identities and no anonymous identity`);
  }
  const ids = new Set<string>();
  const hashes = new Set<string>();
  for (const identity of config.identities) {
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
