/**
 * The configuration of `switchboard serve` (README "Configuration"): one TypeBox schema for the file,
 * the environment and the flags alike. It mirrors the broker's options (options.ts), with files named
 * by path (the auth file, the TLS certificate and key), plus the monitor and the logs. Every setting is
 * optional: an unset one keeps its default. Problems come back as sentences, all of them at once.
 */
import Type, { type Static, type TInteger, type TOptional, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { DEFAULT_LIMITS, type Limits } from '../protocol/index.js';

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

const check = Compile(Config as TSchema);

/**
 * The problems of one source's settings, each a sentence naming the setting as that source spells it:
 * `label(pointer)` turns a JSON pointer (`/limits/maxDepth`) into `SWITCHBOARD_LIMIT_MAX_DEPTH`,
 * `--limit maxDepth`, `switchboard.yaml: limits.maxDepth`. Returns the pointers at fault too, so that
 * the caller can drop those values and still find the problems further on.
 */
export function configProblems(values: unknown, label: (pointer: string) => string): { problems: string[]; faulty: string[] } {
  if (check.Check(values)) return { problems: [], faulty: [] };
  const problems: string[] = [];
  const faulty: string[] = [];
  const seen = new Set<string>();
  for (const error of check.Errors(values)) {
    if (error.keyword === 'boolean') continue; // the "schema is false" twin of an additionalProperties error
    if (error.keyword === 'additionalProperties') {
      for (const key of (error.params as { additionalProperties: string[] }).additionalProperties) {
        const pointer = `${error.instancePath}/${key}`;
        faulty.push(pointer);
        problems.push(`${label(pointer)}: unknown ${error.instancePath === '/limits' ? 'limit' : 'setting'}`);
      }
      continue;
    }
    if (seen.has(error.instancePath)) continue; // one sentence per setting
    seen.add(error.instancePath);
    faulty.push(error.instancePath);
    const message =
      error.keyword === 'enum'
        ? `must be one of ${(error.params as { allowedValues: string[] }).allowedValues.join(', ')}`
        : error.keyword === 'pattern' && error.instancePath === '/path'
          ? 'must start with "/"'
          : error.message;
    problems.push(`${label(error.instancePath)}: ${message}`);
  }
  return { problems, faulty };
}
