/**
 * Broker options: validated once, all problems reported together, then frozen (protocol.md section 9
 * for the limits).
 */
import { DEFAULT_LIMITS, isName, type Limits } from '../protocol/wire.js';
import type { AuthPolicy } from './auth/policy.js';

/**
 * Where the broker's lifecycle lines and faults go: any pino-compatible logger, whose methods take
 * `(fields, message)` or `(message)` (pino itself, or a small adapter).
 */
export interface Logger {
  info(fields: object | string, message?: string): void;
  warn(fields: object | string, message?: string): void;
  error(fields: object | string, message?: string): void;
}

export interface BrokerOptions {
  /** Interface to listen on. Default: all interfaces. */
  host?: string;
  /** TCP port; 0 picks a free one. Default: 9042. */
  port?: number;
  /**
   * Listen on this Unix socket (or Windows pipe) instead of a TCP port; on Linux a name starting with
   * `\0` is an abstract socket. Excludes `host` and `port`. Default: none (TCP).
   */
  socketPath?: string;
  /** The one WebSocket path; upgrades elsewhere get HTTP 404 ([SB-2-1]). Default: `/`. */
  path?: string;
  /** Limits; any not given keeps its default (protocol.md section 9). */
  limits?: Partial<Limits>;
  /** Where lifecycle lines and faults go. Default: nowhere. */
  logger?: Logger;
  /** Browser origins allowed to connect; others get HTTP 403 before the upgrade ([SB-2-5]). Default: all. */
  allowedOrigins?: string[];
  /** Serve `wss://` with this PEM certificate and key. Default: plain `ws://`. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Who may connect and what they may do ([SB-4.5-1]); see auth/policy.ts. Default: everyone, everything. */
  auth?: AuthPolicy;
  /** The name of the broker's own peer, used by broker.send, request and publish. Default: `broker`. */
  peerName?: string;
  /** Names that are durable whoever registers them (patterns, `*` for any run of characters) ([SB-6.3-1]). */
  durableNames?: string[];
  /** On close(), how long pending requests may still get answers before they fail ([SB-2-6]). Default: 5000. */
  shutdownGraceMs?: number;
  /** Serve the monitor listener (lib/monitor/README.md) on this address. Default: none. */
  monitor?: MonitorAddress;
  /**
   * Run as one node of a cluster on Redis (protocol.md section 16): its URL, or the URL with a key prefix
   * (default `switchboard:`; clusters that share a Redis differ by it) and the lease of a node's names in
   * ms (default 3000). Default: none, the single-process broker.
   */
  cluster?: string | ClusterAddress;
  /**
   * Keep the mailboxes of offline durable names in this folder too, so that they outlive a restart or a
   * crash of the broker (protocol.md section 6.3; lib/broker/mailbox-file.ts). Not with `cluster`, whose
   * mailboxes are in Redis. Default: none, in memory only.
   */
  dataDir?: string;
}

export interface ClusterAddress {
  url: string;
  prefix?: string;
  leaseMs?: number;
}

/** Where the monitor listens: `host` defaults to 127.0.0.1, `port` to 9043 (0 picks a free one). */
export interface MonitorAddress {
  host?: string;
  port?: number;
  /** Refuse the kicks (403) and hide the dashboard's act controls (lib/monitor/README.md). Default: false. */
  readonly?: boolean;
}

export interface ResolvedOptions {
  readonly host: string | undefined;
  readonly port: number;
  readonly socketPath: string | undefined;
  readonly path: string;
  readonly limits: Readonly<Limits>;
  readonly logger: Logger;
  readonly allowedOrigins: ReadonlySet<string> | undefined;
  readonly tls: { cert: string | Buffer; key: string | Buffer } | undefined;
  readonly shutdownGraceMs: number;
  readonly auth: AuthPolicy | undefined;
  readonly durableNames: readonly string[] | undefined;
  readonly peerName: string;
  readonly monitor: Readonly<Required<MonitorAddress>> | undefined;
  readonly cluster: Readonly<Required<ClusterAddress>> | undefined;
  readonly dataDir: string | undefined;
}

export const DEFAULT_PORT = 9042;
export const DEFAULT_MONITOR_PORT = 9043;

/** The longest delay Node's timers hold (2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const TIMER_LIMITS = ['defaultTimeoutMs', 'maxTimeoutMs', 'heartbeatMs', 'authTimeoutMs', 'badFrameWindowMs', 'maxMailboxAgeMs'] as const;

const silent: Logger = { info() {}, warn() {}, error() {} };

export function resolveOptions(options: BrokerOptions = {}): ResolvedOptions {
  const problems: string[] = [];
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`port must be an integer 0-65535, got ${String(port)}`);
  const socketPath = options.socketPath;
  if (socketPath !== undefined && (typeof socketPath !== 'string' || socketPath === '')) problems.push('socketPath must be a non-empty string');
  if (socketPath !== undefined && (options.host !== undefined || options.port !== undefined)) problems.push('socketPath excludes host and port');
  const path = options.path ?? '/';
  if (typeof path !== 'string' || !path.startsWith('/')) problems.push(`path must start with "/", got ${String(path)}`);
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(options.limits ?? {})) {
    if (!Object.hasOwn(DEFAULT_LIMITS, key)) {
      problems.push(`unknown limit "${key}"`);
    } else if (!Number.isSafeInteger(value) || (value as number) < 1) {
      problems.push(`limit ${key} must be a positive integer, got ${String(value)}`);
    } else {
      limits[key as keyof Limits] = value as number;
    }
  }
  if (limits.defaultTimeoutMs > limits.maxTimeoutMs) problems.push('limit defaultTimeoutMs must not exceed maxTimeoutMs');
  for (const key of TIMER_LIMITS) {
    // Node shortens longer timers to 1 ms: a deadline of 25 days would fire at once.
    if (limits[key] > MAX_TIMER_MS) problems.push(`limit ${key} must be at most ${MAX_TIMER_MS} ms, got ${limits[key]}`);
  }
  const origins = options.allowedOrigins;
  if (origins !== undefined && (!Array.isArray(origins) || origins.some((o) => typeof o !== 'string' || o === ''))) {
    problems.push('allowedOrigins must be an array of non-empty strings');
  }
  if (options.tls !== undefined && (!options.tls.cert || !options.tls.key)) problems.push('tls needs both cert and key');
  const peerName = options.peerName ?? 'broker';
  if (!isName(peerName)) problems.push(`peerName must be a name (protocol.md [SB-3-1]), got ${JSON.stringify(peerName)}`);
  const shutdownGraceMs = options.shutdownGraceMs ?? 5000;
  if (!Number.isSafeInteger(shutdownGraceMs) || shutdownGraceMs < 0 || shutdownGraceMs > MAX_TIMER_MS) {
    problems.push(`shutdownGraceMs must be a non-negative integer, got ${String(shutdownGraceMs)}`);
  }
  const given = options.monitor;
  const monitor =
    given === undefined ? undefined : { host: given?.host ?? '127.0.0.1', port: given?.port ?? DEFAULT_MONITOR_PORT, readonly: given?.readonly ?? false };
  if (monitor !== undefined && typeof monitor.readonly !== 'boolean') problems.push('monitor.readonly must be a boolean');
  if (monitor !== undefined && (typeof monitor.host !== 'string' || monitor.host === '')) problems.push('monitor.host must be a non-empty string');
  if (monitor !== undefined && (!Number.isInteger(monitor.port) || monitor.port < 0 || monitor.port > 65535)) {
    problems.push(`monitor.port must be an integer 0-65535, got ${String(monitor.port)}`);
  }
  const cluster = resolveCluster(options.cluster, problems);
  const dataDir = options.dataDir;
  if (dataDir !== undefined && (typeof dataDir !== 'string' || dataDir === '')) problems.push('dataDir must be a non-empty path');
  if (dataDir !== undefined && options.cluster !== undefined) problems.push('dataDir and cluster exclude each other: a cluster keeps its mailboxes in Redis');
  if (problems.length > 0) throw new TypeError(`invalid broker options: ${problems.join('; ')}`);
  return Object.freeze({
    host: options.host,
    port,
    socketPath,
    path,
    limits: Object.freeze(limits),
    logger: options.logger ?? silent,
    allowedOrigins: origins === undefined ? undefined : new Set(origins),
    tls: options.tls,
    shutdownGraceMs,
    auth: options.auth,
    durableNames: options.durableNames,
    peerName,
    monitor: monitor === undefined ? undefined : Object.freeze(monitor),
    cluster,
    dataDir,
  });
}

function resolveCluster(given: string | ClusterAddress | undefined, problems: string[]): Readonly<Required<ClusterAddress>> | undefined {
  if (given === undefined) return undefined;
  const { url, prefix = 'switchboard:', leaseMs = 3000 } = typeof given === 'string' ? { url: given } : given;
  if (typeof url !== 'string' || !/^(rediss?|unix):\/\//.test(url)) problems.push(`cluster.url must be a redis://, rediss:// or unix:// URL, got ${String(url)}`);
  if (typeof prefix !== 'string') problems.push('cluster.prefix must be a string');
  if (!Number.isSafeInteger(leaseMs) || leaseMs < 300 || leaseMs > 60_000) problems.push(`cluster.leaseMs must be an integer 300-60000, got ${String(leaseMs)}`);
  return Object.freeze({ url, prefix, leaseMs });
}
