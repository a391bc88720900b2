/**
 * The lifecycle lines of `switchboard serve` (README "Logs"), made from the broker's events: a child
 * logger per connection (its id, address, dialect and, once known, identity), and one line when it
 * connects, registers a name (unregisters, which its close does too, at debug), fails to authenticate, is refused a name or exceeds a limit
 * (at info or warn the first time per code or limit, at debug after: a client that keeps trying is
 * counted in its closing line, not logged at length), is closed as a slow consumer, and closes (code,
 * reason, duration). Payloads are never logged.
 */
import type { Broker, ConnectionInfo } from '../broker/index.js';
import { CLOSE_CODES } from '../protocol/wire.js';
import type { Pino } from './log.js';

interface Tracked {
  log: Pino;
  identity: string | undefined;
  connectedAt: number;
  /** How many times it exceeded each limit; the keys are limit names, a closed set. */
  exceeded: Map<string, number>;
  /** How many of its registers were refused, by error code (a closed set). */
  refusals: Map<string, number>;
}

export interface Lifecycle {
  /** From now on each connection's closing line is at debug: the shutdown line sums them up. */
  shuttingDown(): void;
  /** The connections being tracked (for tests: none once they are all closed). */
  readonly tracked: number;
}

export function logLifecycle(broker: Broker, log: Pino): Lifecycle {
  const connections = new Map<string, Tracked>();
  let closing = false;

  /**
   * The connection's entry, its child logger made again when its identity became known. Only the
   * `connection` event keeps a new entry (`disconnect` removes it), so nothing can outlive its connection.
   */
  const track = (info: ConnectionInfo, keep = false): Tracked => {
    let entry = connections.get(info.id);
    if (entry === undefined) {
      entry = { log: child(log, info), identity: info.identity, connectedAt: performance.now(), exceeded: new Map(), refusals: new Map() };
      if (keep) connections.set(info.id, entry);
    } else if (info.identity !== entry.identity) {
      entry.identity = info.identity;
      entry.log = child(log, info);
    }
    return entry;
  };

  broker.on('connection', (info) => {
    const { log } = track(info, true);
    if (info.remoteAddress === 'local') log.debug('connection');
    else log.info('connection');
  });
  broker.on('registered', (name, info) => {
    track(info).log.info({ name }, 'registered');
  });
  broker.on('unregistered', (name, info) => {
    track(info).log.debug({ name }, 'unregistered');
  });
  broker.on('refused', (info, code, subject) => {
    const entry = track(info);
    if (subject === 'auth') {
      entry.log.warn({ code }, 'auth failed');
      return;
    }
    const times = count(entry.refusals, code);
    if (times === 1) entry.log.info({ name: subject, code }, 'register refused');
    else entry.log.debug({ name: subject, code, times }, 'register refused');
  });
  broker.on('limitExceeded', (info, limit) => {
    const entry = track(info);
    const times = count(entry.exceeded, limit);
    if (limit === 'maxBufferedBytes') entry.log.warn({ limit }, 'slow consumer');
    else if (times === 1) entry.log.warn({ limit }, 'limit exceeded');
    else entry.log.debug({ limit, times }, 'limit exceeded');
  });
  broker.on('disconnect', (info, code, reason) => {
    const entry = track(info);
    connections.delete(info.id);
    const fields: Record<string, unknown> = { code, durationMs: Math.round(performance.now() - entry.connectedAt) };
    if (reason !== '') fields.reason = reason;
    if (entry.exceeded.size > 0) fields.limitsExceeded = Object.fromEntries(entry.exceeded);
    if (entry.refusals.size > 0) fields.refusals = Object.fromEntries(entry.refusals);
    if (closing || info.remoteAddress === 'local') entry.log.debug(fields, 'closed');
    else if (entry.exceeded.has('maxBufferedBytes') || code === CLOSE_CODES.internalError) entry.log.warn(fields, 'closed');
    else entry.log.info(fields, 'closed');
  });

  return {
    shuttingDown: () => {
      closing = true;
    },
    get tracked() {
      return connections.size;
    },
  };
}

function count(counts: Map<string, number>, key: string): number {
  const times = (counts.get(key) ?? 0) + 1;
  counts.set(key, times);
  return times;
}

function child(log: Pino, info: ConnectionInfo): Pino {
  const bindings: Record<string, string> = { conn: info.id, address: info.remoteAddress, dialect: info.dialect };
  if (info.identity !== undefined) bindings.identity = info.identity;
  return log.child(bindings);
}
