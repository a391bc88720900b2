/**
 * The auth file (protocol.md section 12): who may connect, with which token, and what each identity may
 * do. One schema is the type, the validator the broker uses (validators.ts, generated ahead of time) and
 * spec/schema/auth-config.json (both by scripts/gen-schema.ts). Loading a file and building the policy is the
 * broker's business; what a valid file looks like is the protocol's.
 */
import Type, { type Static } from 'typebox';

/** [SB-12-3] `*` stands for any run of characters; every other character stands for itself. */
const Pattern = Type.String({
  minLength: 1,
  maxLength: 256,
  description:
    'A pattern matched against the whole name or topic: "*" matches any run of characters (none and dots included), ' +
    'every other character only itself.',
});

function patterns(what: string) {
  return Type.Optional(
    Type.Array(Pattern, {
      maxItems: 1000,
      description: `${what} Absent or empty: none.`,
    }),
  );
}

/** [SB-12-3] What an identity may do; an absent key allows nothing. */
export const AuthPermissions = Type.Object(
  {
    register: patterns('The names this identity may register (also shared, durable, or by takeover).'),
    send: patterns('The names this identity may send to; a broadcast needs a pattern that matches "*".'),
    subscribe: patterns('The topics this identity may subscribe to, as written in the subscribe frame.'),
    publish: patterns('The topics this identity may publish to.'),
    monitor: Type.Optional(
      Type.Array(Type.Union([Type.Literal('read'), Type.Literal('write')]), {
        uniqueItems: true,
        maxItems: 2,
        description: 'Access to the monitor listener: "read" for GET, "write" for POST (kick). Absent or empty: none.',
      }),
    ),
  },
  { additionalProperties: false, description: 'What the identity may do: each key absent, or an empty list, allows nothing.' },
);
export type AuthPermissions = Static<typeof AuthPermissions>;

const IdentityId = Type.String({ minLength: 1, maxLength: 128, description: 'The identity\'s name, as the authenticated frame gives it.' });

/** [SB-12-2] An identity proves itself with a token; the file holds only its hash. */
export const AuthIdentity = Type.Object(
  {
    id: IdentityId,
    tokenSha256: Type.String({
      pattern: '^[0-9a-f]{64}$',
      description: 'SHA-256 of the token\'s UTF-8 bytes, as 64 lowercase hexadecimal digits (switchboard token prints one).',
    }),
    permissions: AuthPermissions,
  },
  { additionalProperties: false, description: 'An identity that authenticates with a token; ids and hashes are unique in the file.' },
);
export type AuthIdentity = Static<typeof AuthIdentity>;

/** [SB-12-1] The whole file. */
export const AuthConfig = Type.Object(
  {
    identities: Type.Array(AuthIdentity, { description: 'The identities that authenticate with a token.' }),
    anonymous: Type.Optional(
      Type.Object(
        { id: IdentityId, permissions: AuthPermissions },
        {
          additionalProperties: false,
          description: 'The identity of connections that do not authenticate (legacy clients included); absent: they are refused.',
        },
      ),
    ),
  },
  { additionalProperties: false, description: 'The auth file of switchboard serve --auth (protocol.md section 12).' },
);
export type AuthConfig = Static<typeof AuthConfig>;
