/**
 * The client's options, their defaults, and their validation. Options are checked once, in the
 * constructor, which throws one `invalid_argument` error listing every problem; the result is frozen.
 * Each default is stated in its JSDoc and in lib/client/README.md.
 */
import { DEFAULT_LIMITS, isName } from '../protocol/wire.js';
import { DEFAULT_RECONNECT, checkReconnect, type ReconnectOptions, type ResolvedBackoff } from './backoff.js';
import type { WebSocketConstructor } from './connection.js';
import { SwitchboardError } from './errors.js';

/** How a name is registered (protocol.md 4.1); both are re-applied at every reconnect. */
export interface NameOptions {
  /** Serve the name as one member of a responder pool (protocol.md 6.4) rather than alone. Default: false. */
  shared?: boolean;
  /**
   * Keep a mailbox for the name while this client is offline (protocol.md 6.3): what is sent to it then
   * is queued and delivered, in order, when it registers again. Default: false.
   */
  durable?: boolean;
}

/** A name to register, with its options. */
export interface NameSpec extends NameOptions {
  name: string;
}

/** A name as the client registers it. */
export interface Registration {
  readonly name: string;
  readonly shared: boolean;
  readonly durable: boolean;
}

export interface ClientOptions {
  /** The name to register (a string, or `{ name, shared?, durable? }`). Default: none (see `names`). */
  name?: string | NameSpec;
  /**
   * Names to register, in addition to `name` (strings, or `{ name, shared?, durable? }`). A client must
   * hold a name to send [SB-4.3-1], so when neither is given the client registers a random one, `anon-`
   * followed by 16 URL-safe characters.
   */
  names?: Array<string | NameSpec>;
  /**
   * The WebSocket constructor. Default: `globalThis.WebSocket` (browsers); the Node entry point
   * (`lib/client/node.ts`) passes the `ws` package's.
   */
  WebSocket?: WebSocketConstructor;
  /** Deadline of a request that gives no `timeout`, in milliseconds; sent to the broker. Default: 30000. */
  requestTimeoutMs?: number;
  /**
   * Extra time the client waits after a request's deadline before it rejects with `timeout` itself, so
   * that the broker's own `timeout` outcome normally arrives first. Default: 1000.
   */
  timeoutGraceMs?: number;
  /** Deadline of a send that gives no `timeout` (waiting in the queue, then for its report), in milliseconds. Default: 30000. */
  sendTimeoutMs?: number;
  /** Operations that may wait for the connection at once; more are rejected with `queue_full`. Default: 1000. */
  maxQueue?: number;
  /**
   * Requests and reported sends that may be in flight at once; more wait in the queue. Default: 1024
   * (the broker's default `maxPendingPerConnection`, so the client never provokes `limit_exceeded`).
   */
  maxInFlight?: number;
  /** Largest message body the client sends, in UTF-8 bytes; larger is rejected with `too_large` before sending. Default: 1048576. */
  maxMessageBytes?: number;
  /** Time allowed for one connection attempt: socket open and every name registered, in milliseconds. Default: 10000. */
  connectTimeoutMs?: number;
  /** Reconnect after a failed attempt or a dropped connection (see ReconnectOptions); `false` to give up at once. Default: true. */
  reconnect?: boolean | ReconnectOptions;
  /**
   * A token to authenticate every connection with, in an `auth` frame before anything else (protocol.md
   * 4.5; never in the URL). A token the broker refuses closes the client with `unauthorized`. Default: none.
   */
  token?: string;
  /**
   * Register names with `takeover`: a name still held by another connection of the same identity (this
   * process's own half-open connection after a network failure, or a previous run of it) moves to this
   * one [SB-4.1-6]. Needs `token`. Only for a name that one process serves: if this client's name is
   * taken over in turn (close 4009), it closes with `name_taken` rather than fight back. Default: false.
   */
  takeover?: boolean;
}

export interface ResolvedOptions {
  readonly urls: readonly string[];
  readonly names: readonly string[];
  /** The names with how to register them, in the order of `names`. */
  readonly registrations: readonly Registration[];
  readonly WebSocket: WebSocketConstructor | undefined;
  readonly requestTimeoutMs: number;
  readonly timeoutGraceMs: number;
  readonly sendTimeoutMs: number;
  readonly maxQueue: number;
  readonly maxInFlight: number;
  readonly maxMessageBytes: number;
  readonly connectTimeoutMs: number;
  /** `false` when reconnect is off. */
  readonly reconnect: Readonly<ResolvedBackoff> | false;
  readonly token: string | undefined;
  readonly takeover: boolean;
}

export const CLIENT_DEFAULTS = Object.freeze({
  requestTimeoutMs: DEFAULT_LIMITS.defaultTimeoutMs,
  timeoutGraceMs: 1000,
  sendTimeoutMs: 30_000,
  maxQueue: 1000,
  maxInFlight: DEFAULT_LIMITS.maxPendingPerConnection,
  maxMessageBytes: DEFAULT_LIMITS.maxMessageBytes,
  connectTimeoutMs: 10_000,
});

export function resolveOptions(url: string | readonly string[], options: ClientOptions): ResolvedOptions {
  const problems: string[] = [];
  const urls = typeof url === 'string' ? [url] : Array.isArray(url) ? [...url] : [];
  if (urls.length === 0) problems.push('url must be a ws:// or wss:// URL, or a non-empty array of them');
  for (const each of urls) {
    if (typeof each !== 'string' || !/^wss?:\/\/[^/]/i.test(each)) problems.push(`url ${JSON.stringify(each)} is not a ws:// or wss:// URL`);
  }
  const registrations = resolveNames([...(options.name === undefined ? [] : [options.name]), ...(Array.isArray(options.names) ? options.names : [])], problems);
  if (options.names !== undefined && !Array.isArray(options.names)) problems.push('names must be an array');
  const positive = (key: keyof typeof CLIENT_DEFAULTS, min: number) => {
    const value = options[key];
    if (value !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value >= min)) {
      problems.push(`${key} must be an integer >= ${min}`);
    }
    return value ?? CLIENT_DEFAULTS[key];
  };
  const resolved = {
    urls,
    names: registrations.map((each) => each.name),
    registrations,
    WebSocket: options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket,
    requestTimeoutMs: positive('requestTimeoutMs', 1),
    timeoutGraceMs: positive('timeoutGraceMs', 0),
    sendTimeoutMs: positive('sendTimeoutMs', 1),
    maxQueue: positive('maxQueue', 0),
    maxInFlight: positive('maxInFlight', 1),
    maxMessageBytes: positive('maxMessageBytes', 1),
    connectTimeoutMs: positive('connectTimeoutMs', 1),
    reconnect: resolveReconnect(options.reconnect, problems),
    token: options.token,
    takeover: options.takeover ?? false,
  };
  if (options.token !== undefined && !(typeof options.token === 'string' && options.token.length >= 1 && options.token.length <= 4096)) {
    problems.push('token must be a string of 1 to 4096 characters');
  }
  if (typeof resolved.takeover !== 'boolean') problems.push('takeover must be a boolean');
  if (typeof resolved.WebSocket !== 'function') {
    problems.push('no WebSocket implementation: pass options.WebSocket, or import the client from its node entry point');
  }
  if (problems.length > 0) {
    throw new SwitchboardError('invalid_argument', `invalid client options: ${problems.join('; ')}`);
  }
  return Object.freeze(resolved);
}

/** Names as strings or specs, checked; a name given twice must be given the same way. */
function resolveNames(given: unknown[], problems: string[]): Registration[] {
  const byName = new Map<string, Registration>();
  for (const each of given) {
    const spec = (typeof each === 'string' ? { name: each } : each) as NameSpec | null;
    const name = typeof spec === 'object' && spec !== null ? spec.name : undefined;
    if (typeof name !== 'string' || !isName(name)) {
      problems.push(`name ${safeJson(name ?? each)} is not a valid name (1 to 128 of A-Z a-z 0-9 _ . : @ / ~ -)`);
      continue;
    }
    const problem = checkNameOptions(spec as NameSpec);
    if (problem !== undefined) {
      problems.push(`name ${name}: ${problem}`);
      continue;
    }
    const registration = Object.freeze({ name, shared: spec!.shared === true, durable: spec!.durable === true });
    const earlier = byName.get(name);
    if (earlier !== undefined && (earlier.shared !== registration.shared || earlier.durable !== registration.durable)) {
      problems.push(`name ${name} is given twice with different options`);
    }
    if (earlier === undefined) byName.set(name, registration);
  }
  if (byName.size === 0 && problems.length === 0) return [Object.freeze({ name: randomName(), shared: false, durable: false })];
  return [...byName.values()];
}

/** The problem with `shared` and `durable` of a name, if any. */
export function checkNameOptions(options: NameOptions): string | undefined {
  for (const key of ['shared', 'durable'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') return `${key} must be a boolean`;
  }
  return undefined;
}

function safeJson(value: unknown): string {
  try {
    return String(JSON.stringify(value));
  } catch {
    return String(value);
  }
}

function resolveReconnect(value: ClientOptions['reconnect'], problems: string[]): ResolvedOptions['reconnect'] {
  if (value === undefined || value === true) return DEFAULT_RECONNECT;
  if (value === false) return false;
  if (typeof value !== 'object' || value === null) {
    problems.push('reconnect must be a boolean or an object');
    return false;
  }
  problems.push(...checkReconnect(value));
  return Object.freeze({ ...DEFAULT_RECONNECT, ...stripUndefined(value) });
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/** `anon-` and 16 random URL-safe characters (96 bits): unlikely to be taken, valid by [SB-3-1]. */
export function randomName(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let name = 'anon-';
  for (const byte of bytes) name += ALPHABET[byte & 63];
  return name;
}
