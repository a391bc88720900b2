/**
 * The configuration of `switchboard serve` (README "Configuration"): one TypeBox schema for the file,
 * the environment and the flags alike. It mirrors the broker's options (options.ts), with files named
 * by path (the auth file, the TLS certificate and key), plus the monitor and the logs. Every setting is
 * optional: an unset one keeps its default. The server checks a configuration with the validator
 * generated from this schema (validators.ts, by scripts/gen-schema.ts) and words its problems in
 * problems.ts: it never loads TypeBox.
 */
import Type, { type Static, type TInteger, type TOptional } from 'typebox';
import { DEFAULT_LIMITS, type Limits } from '../protocol/wire.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
/** `auto`: pretty when standard output is a terminal, JSON lines otherwise. */
export const LOG_FORMATS = ['json', 'pretty', 'auto'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];

const Text = Type.String({ minLength: 1 });
const Port = Type.Integer({ minimum: 0, maximum: 65535 });

const LimitsSchema = Type.Object(
  Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((key) => [key, Type.Optional(Type.Integer({ minimum: 1 }))])) as Record<
    keyof Limits,
    TOptional<TInteger>
  >,
  { additionalProperties: false },
);

export const Config = Type.Object(
  {
    host: Type.Optional(Text),
    port: Type.Optional(Port),
    socketPath: Type.Optional(Text),
    path: Type.Optional(Type.String({ pattern: '^/' })),
    /** PEM files; relative paths in a file are relative to that file. */
    tls: Type.Optional(Type.Object({ cert: Type.Optional(Text), key: Type.Optional(Text) }, { additionalProperties: false })),
    limits: Type.Optional(LimitsSchema),
    /** The auth file (README "Security"), by path: tokens never appear in the configuration. */
    auth: Type.Optional(Text),
    durableNames: Type.Optional(Type.Array(Text)),
    peerName: Type.Optional(Text),
    allowedOrigins: Type.Optional(Type.Array(Text)),
    shutdownGraceMs: Type.Optional(Type.Integer({ minimum: 0 })),
    /** The monitor's listener (lib/monitor): host 127.0.0.1 and port 9043 unless given; `readonly` refuses kicks. */
    monitor: Type.Optional(
      Type.Object({ host: Type.Optional(Text), port: Type.Optional(Port), readonly: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
    ),
    /** Cluster mode on Redis (protocol.md section 16): the Redis URL, the key prefix, a node's lease in ms. */
    cluster: Type.Optional(
      Type.Object(
        { url: Type.Optional(Text), prefix: Type.Optional(Type.String()), leaseMs: Type.Optional(Type.Integer({ minimum: 300, maximum: 60_000 })) },
        { additionalProperties: false },
      ),
    ),
    /** Keep the mailboxes on disk in this folder (lib/broker/mailbox-file.ts); relative to the file. */
    dataDir: Type.Optional(Text),
    log: Type.Optional(
      Type.Object(
        { level: Type.Optional(Type.Enum([...LOG_LEVELS])), format: Type.Optional(Type.Enum([...LOG_FORMATS])) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type Config = Static<typeof Config>;
