/**
 * Where the configuration of `switchboard serve` comes from, and what it makes (README "Configuration"):
 * the file (`-c`, JSON or YAML), the environment (`SWITCHBOARD_*`) and the flags, in rising precedence
 * (flags > environment > file), each checked by the one schema (schema.ts) and merged setting by setting;
 * then the broker's options, with the auth file and the TLS files read and every option validated by
 * the broker (resolveOptions). Every problem of every source is reported at once, in one ConfigError.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { loadAuthConfig, resolveOptions, type BrokerOptions } from '../broker/index.js';
import type { Limits } from '../protocol/wire.js';
import { configProblems } from './problems.js';
import type { Config, LogFormat, LogLevel } from './schema.js';

/** A configuration that cannot be used: every problem, each a sentence naming where it came from. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** The flags of `serve` and `config print`, for node:util parseArgs. */
export const FLAG_OPTIONS = {
  config: { type: 'string', short: 'c' },
  port: { type: 'string' },
  host: { type: 'string' },
  path: { type: 'string' },
  auth: { type: 'string' },
  'allowed-origin': { type: 'string', multiple: true },
  'durable-names': { type: 'string', multiple: true },
  'peer-name': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  limit: { type: 'string', multiple: true },
  'shutdown-grace': { type: 'string' },
  monitor: { type: 'string' },
  'monitor-readonly': { type: 'boolean' },
  cluster: { type: 'string' },
  'cluster-prefix': { type: 'string' },
  'cluster-lease': { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

export type FlagValues = { [K in keyof typeof FLAG_OPTIONS]?: (typeof FLAG_OPTIONS)[K] extends { multiple: true } ? string[] : string | boolean };

export interface Sources {
  flags: FlagValues;
  env: Readonly<Record<string, string | undefined>>;
  /** Where relative paths of the flags and the environment start. Default: the working directory. */
  cwd?: string;
}

/** The broker's options as the configuration makes them; the logger is the caller's. */
export type ServeOptions = BrokerOptions;

/** The effective configuration: every setting as it will be used, defaults filled in. */
export type Effective = Config & {
  path: string;
  limits: Limits;
  peerName: string;
  shutdownGraceMs: number;
  log: { level: LogLevel; format: LogFormat };
};

export interface Loaded {
  config: Effective;
  options: ServeOptions;
  /** The configuration file read, if any. */
  file: string | undefined;
  /** What is worth saying but stops nothing (an old use of `--config`). */
  warnings: string[];
}

type Kind = 'text' | 'integer' | 'path' | 'list' | 'address' | 'boolean';

/** Every setting the environment and the flags can give (limits have their own: see `limitsOf`). */
const SETTINGS: ReadonlyArray<{ pointer: string; env: string; flag?: keyof typeof FLAG_OPTIONS; kind: Kind }> = [
  { pointer: '/host', env: 'SWITCHBOARD_HOST', flag: 'host', kind: 'text' },
  { pointer: '/port', env: 'SWITCHBOARD_PORT', flag: 'port', kind: 'integer' },
  { pointer: '/socketPath', env: 'SWITCHBOARD_SOCKET_PATH', kind: 'text' },
  { pointer: '/path', env: 'SWITCHBOARD_PATH', flag: 'path', kind: 'text' },
  { pointer: '/auth', env: 'SWITCHBOARD_AUTH', flag: 'auth', kind: 'path' },
  { pointer: '/tls/cert', env: 'SWITCHBOARD_TLS_CERT', flag: 'tls-cert', kind: 'path' },
  { pointer: '/tls/key', env: 'SWITCHBOARD_TLS_KEY', flag: 'tls-key', kind: 'path' },
  { pointer: '/allowedOrigins', env: 'SWITCHBOARD_ALLOWED_ORIGINS', flag: 'allowed-origin', kind: 'list' },
  { pointer: '/durableNames', env: 'SWITCHBOARD_DURABLE_NAMES', flag: 'durable-names', kind: 'list' },
  { pointer: '/peerName', env: 'SWITCHBOARD_PEER_NAME', flag: 'peer-name', kind: 'text' },
  { pointer: '/shutdownGraceMs', env: 'SWITCHBOARD_SHUTDOWN_GRACE_MS', flag: 'shutdown-grace', kind: 'integer' },
  { pointer: '/monitor', env: 'SWITCHBOARD_MONITOR', flag: 'monitor', kind: 'address' },
  // After /monitor, which sets the whole object: this one sets a key inside it.
  { pointer: '/monitor/readonly', env: 'SWITCHBOARD_MONITOR_READONLY', flag: 'monitor-readonly', kind: 'boolean' },
  { pointer: '/cluster/url', env: 'SWITCHBOARD_CLUSTER', flag: 'cluster', kind: 'text' },
  { pointer: '/cluster/prefix', env: 'SWITCHBOARD_CLUSTER_PREFIX', flag: 'cluster-prefix', kind: 'text' },
  { pointer: '/cluster/leaseMs', env: 'SWITCHBOARD_CLUSTER_LEASE_MS', flag: 'cluster-lease', kind: 'integer' },
  { pointer: '/dataDir', env: 'SWITCHBOARD_DATA_DIR', flag: 'data-dir', kind: 'path' },
  { pointer: '/log/level', env: 'SWITCHBOARD_LOG_LEVEL', flag: 'log-level', kind: 'text' },
  { pointer: '/log/format', env: 'SWITCHBOARD_LOG_FORMAT', flag: 'log-format', kind: 'text' },
];
const LIMIT_PREFIX = 'SWITCHBOARD_LIMIT_';
const PATH_POINTERS = ['/auth', '/tls/cert', '/tls/key', '/dataDir'];

type Values = Record<string, unknown>;

/** One source's settings, how it names each one, and what was wrong before the schema looked. */
interface Layer {
  values: Values;
  label(pointer: string): string;
  problems: string[];
}

/**
 * Read every source and make the broker's options; throws a ConfigError with every problem found.
 * Nothing is started: `config print` and a SIGHUP reload call it too.
 */
export function loadConfig(sources: Sources): Loaded {
  const cwd = sources.cwd ?? process.cwd();
  const warnings: string[] = [];
  const file = sources.flags.config ?? nonEmpty(sources.env.SWITCHBOARD_CONFIG);
  const layers = [
    ...(typeof file === 'string' ? [fileLayer(resolve(cwd, file), warnings)] : []),
    envLayer(sources.env, cwd),
    flagLayer(sources.flags, cwd),
  ];
  const problems: string[] = [];
  const merged: Values = {};
  // A read-only monitor needs a monitor: an address from any source, or `monitor` in the file.
  const monitorGiven = layers.some((layer, i) => {
    const monitor = layer.values.monitor;
    return isObject(monitor) && ((typeof file === 'string' && i === 0) || Object.keys(monitor).some((key) => key !== 'readonly'));
  });
  for (const layer of layers) {
    problems.push(...layer.problems);
    const checked = configProblems(layer.values, layer.label);
    problems.push(...checked.problems);
    for (const pointer of checked.faulty) unset(layer.values, pointer); // so that later checks do not repeat it
    merge(merged, layer.values);
  }
  const config = merged as Config;
  if (config.monitor !== undefined && !monitorGiven) {
    // `readonly` alone turns no monitor on: set to true it is a mistake, to false it says nothing.
    if (config.monitor.readonly === true) {
      problems.push('--monitor-readonly (SWITCHBOARD_MONITOR_READONLY) needs a monitor: give --monitor HOST:PORT, SWITCHBOARD_MONITOR or monitor in the file');
    }
    delete config.monitor;
  }
  const options: ServeOptions = {
    host: config.host,
    port: config.port,
    socketPath: config.socketPath,
    path: config.path,
    limits: config.limits as Partial<Limits> | undefined,
    allowedOrigins: config.allowedOrigins,
    durableNames: config.durableNames,
    peerName: config.peerName,
    shutdownGraceMs: config.shutdownGraceMs,
    monitor: config.monitor,
    dataDir: config.dataDir,
  };
  if (config.cluster !== undefined) {
    const { url, ...rest } = config.cluster;
    if (url === undefined) problems.push('cluster needs a Redis URL (--cluster URL, SWITCHBOARD_CLUSTER or cluster.url)');
    else options.cluster = { url, ...rest };
  }
  for (const key of Object.keys(options) as Array<keyof ServeOptions>) if (options[key] === undefined) delete options[key];
  if (config.tls !== undefined) {
    const { cert, key } = config.tls;
    if (cert === undefined || key === undefined) problems.push('tls needs both cert and key (--tls-cert and --tls-key)');
    else {
      const [certPem, keyPem] = [readPem(cert, 'tls.cert', problems), readPem(key, 'tls.key', problems)];
      if (certPem !== undefined && keyPem !== undefined) options.tls = { cert: certPem, key: keyPem };
    }
  }
  if (config.auth !== undefined) {
    try {
      options.auth = loadAuthConfig(config.auth);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  let resolved: ReturnType<typeof resolveOptions> | undefined;
  try {
    resolved = resolveOptions(options);
  } catch (error) {
    problems.push(...(error as Error).message.replace(/^invalid broker options: /, '').split('; '));
  }
  if (problems.length > 0 || resolved === undefined) throw new ConfigError(problems);
  const effective: Effective = {
    host: config.host,
    port: config.socketPath === undefined ? resolved.port : undefined,
    socketPath: config.socketPath,
    path: resolved.path,
    tls: config.tls,
    auth: config.auth,
    allowedOrigins: config.allowedOrigins,
    durableNames: config.durableNames,
    peerName: resolved.peerName,
    shutdownGraceMs: resolved.shutdownGraceMs,
    limits: { ...resolved.limits },
    monitor: resolved.monitor === undefined ? undefined : effectiveMonitor(resolved.monitor),
    cluster: resolved.cluster === undefined ? undefined : { ...resolved.cluster },
    dataDir: config.dataDir,
    log: { level: (config.log?.level ?? 'info') as LogLevel, format: (config.log?.format ?? 'auto') as LogFormat },
  };
  return { config: effective, options, file: typeof file === 'string' ? resolve(cwd, file) : undefined, warnings };
}

/** `-c FILE`: JSON when it ends in .json, YAML otherwise; relative paths in it start at its folder. */
function fileLayer(file: string, warnings: string[]): Layer {
  const label = (pointer: string) => `${file}: ${pointer === '' ? 'the top level' : pointer.slice(1).replaceAll('/', '.')}`;
  const layer: Layer = { values: {}, label, problems: [] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    layer.problems.push(`cannot read configuration file ${file}: ${(error as Error).message}`);
    return layer;
  }
  let parsed: unknown;
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : (parseYaml(text) ?? {});
  } catch (error) {
    layer.problems.push(`configuration file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
    return layer;
  }
  if (isObject(parsed) && Object.hasOwn(parsed, 'identities')) {
    // `--config` used to name the auth file: such a file still works, and says so once.
    warnings.push(`${file} is an auth file: give it with --auth (--config now names the configuration file)`);
    layer.values = { auth: file };
    return layer;
  }
  layer.values = parsed as Values;
  if (isObject(parsed)) {
    for (const pointer of PATH_POINTERS) {
      const value = get(parsed, pointer);
      if (typeof value === 'string' && value !== '') set(parsed, pointer, resolve(dirname(file), value));
    }
  }
  return layer;
}

function envLayer(env: Sources['env'], cwd: string): Layer {
  const labels = new Map<string, string>();
  const layer: Layer = { values: {}, label: labelFrom(labels, 'the environment'), problems: [] };
  for (const { pointer, env: name, kind } of SETTINGS) {
    const text = nonEmpty(env[name]);
    if (text === undefined) continue;
    labels.set(pointer, name);
    put(layer, pointer, kind === 'list' ? text.split(',').map((s) => s.trim()).filter((s) => s !== '') : text, kind, name, cwd);
  }
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(LIMIT_PREFIX) || nonEmpty(text) === undefined) continue;
    const limit = name.slice(LIMIT_PREFIX.length).toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    labels.set(`/limits/${limit}`, name);
    put(layer, `/limits/${limit}`, text!, 'integer', name, cwd);
  }
  return layer;
}

function flagLayer(flags: FlagValues, cwd: string): Layer {
  const labels = new Map<string, string>();
  const layer: Layer = { values: {}, label: labelFrom(labels, 'the flags'), problems: [] };
  for (const { pointer, flag, kind } of SETTINGS) {
    const value = flag === undefined ? undefined : flags[flag];
    if (kind === 'boolean' && value === true) {
      labels.set(pointer, `--${flag}`);
      set(layer.values, pointer, true);
    }
    if (value === undefined || typeof value === 'boolean') continue;
    labels.set(pointer, `--${flag}`);
    // A repeatable list flag also takes comma-separated items, as its environment variable does.
    const items = Array.isArray(value) ? value.flatMap((item) => item.split(',')).map((s) => s.trim()).filter((s) => s !== '') : value;
    put(layer, pointer, items, kind, `--${flag}`, cwd);
  }
  for (const pair of flags.limit ?? []) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(pair);
    if (match === null) {
      layer.problems.push(`--limit takes NAME=VALUE, got "${pair}"`);
      continue;
    }
    labels.set(`/limits/${match[1]}`, `--limit ${match[1]}`);
    put(layer, `/limits/${match[1]}`, match[2], 'integer', `--limit ${match[1]}`, cwd);
  }
  return layer;
}

/** Set a setting given as text (or a list of texts), converted to what the schema expects. */
function put(layer: Layer, pointer: string, value: string | string[], kind: Kind, label: string, cwd: string): void {
  if (Array.isArray(value) || kind === 'text') return set(layer.values, pointer, value);
  if (kind === 'integer') return set(layer.values, pointer, /^-?\d+$/.test(value) ? Number(value) : value);
  if (kind === 'path') return set(layer.values, pointer, resolve(cwd, value));
  if (kind === 'list') return set(layer.values, pointer, [value]);
  if (kind === 'boolean') {
    if (/^(true|1|yes)$/i.test(value.trim())) return set(layer.values, pointer, true);
    if (/^(false|0|no)$/i.test(value.trim())) return set(layer.values, pointer, false);
    layer.problems.push(`${label}: expected true or false, got ${JSON.stringify(value)}`);
    return;
  }
  const match = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d+)$/.exec(value); // HOST:PORT, [IPV6]:PORT or PORT
  if (match === null) {
    layer.problems.push(`${label}: expected HOST:PORT or PORT, got ${JSON.stringify(value)}`);
    return;
  }
  const host = match[1] ?? match[2];
  set(layer.values, pointer, host === undefined ? { port: Number(match[3]) } : { host, port: Number(match[3]) });
}

/** The monitor as the effective configuration shows it: `readonly` only when it is on. */
function effectiveMonitor({ host, port, readonly }: { host: string; port: number; readonly: boolean }): NonNullable<Config['monitor']> {
  return readonly ? { host, port, readonly } : { host, port };
}

function readPem(path: string, setting: string, problems: string[]): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    problems.push(`cannot read ${setting} ${path}: ${(error as Error).message}`);
    return undefined;
  }
}

/** A pointer's label from the nearest labelled setting above it, else from the source's name. */
function labelFrom(labels: Map<string, string>, source: string): (pointer: string) => string {
  return (pointer) => {
    for (let p = pointer; p !== ''; p = p.slice(0, p.lastIndexOf('/'))) {
      const label = labels.get(p);
      if (label !== undefined) return label;
    }
    return `${source}: ${pointer.slice(1).replaceAll('/', '.')}`;
  };
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text.trim() === '' ? undefined : text;
}

function isObject(value: unknown): value is Values {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Later sources win, setting by setting: objects merge, anything else replaces. */
function merge(target: Values, source: Values): void {
  for (const [key, value] of Object.entries(source)) {
    if (isObject(value)) {
      if (!Object.hasOwn(target, key) || !isObject(target[key])) own(target, key, {});
      merge(target[key] as Values, value);
    } else {
      own(target, key, value);
    }
  }
}

// JSON pointers over plain objects. Keys may come from a file (checked by the schema after), so every
// write defines an own property.

function get(values: Values, pointer: string): unknown {
  let at: unknown = values;
  for (const key of pointer.split('/').slice(1)) at = isObject(at) && Object.hasOwn(at, key) ? at[key] : undefined;
  return at;
}

function set(values: Values, pointer: string, value: unknown): void {
  const keys = pointer.split('/').slice(1);
  let at = values;
  for (const key of keys.slice(0, -1)) {
    if (!Object.hasOwn(at, key) || !isObject(at[key])) own(at, key, {});
    at = at[key] as Values;
  }
  own(at, keys[keys.length - 1], value);
}

/** An own property, whatever its name (`__proto__` included): never a prototype's setter. */
function own(values: Values, key: string, value: unknown): void {
  Object.defineProperty(values, key, { value, enumerable: true, writable: true, configurable: true });
}

function unset(values: Values, pointer: string): void {
  const keys = pointer.split('/').slice(1);
  if (keys.length === 0) {
    for (const key of Object.keys(values)) delete values[key];
    return;
  }
  const parent = get(values, `/${keys.slice(0, -1).join('/')}`.replace(/\/$/, ''));
  if (isObject(parent)) delete parent[keys[keys.length - 1]];
}
