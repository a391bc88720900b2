/**
 * The monitor's JSON views of a broker, in the spirit of NATS' `/varz` and `/connz` (lib/monitor/README.md
 * for the shapes): the server and its counters, the connections (sorted, paged, filtered by a name they
 * hold), the names with their holders, one name with its requests by outcome and the time to its
 * answers (the broker's bounded per-name table, lib/broker/metrics.ts), the topics with their
 * subscribers, the mailboxes. Each view is built when asked, from the broker's read-only accessors;
 * nothing here changes the broker.
 */
import type { Broker } from '../broker/broker.js';
import type { Session } from '../broker/session.js';
import { quantile } from './snapshot.js';

/** What the monitor reads of a broker (and, for kicks, `sessionById` and the names). */
export type MonitoredBroker = Pick<
  Broker,
  'stats' | 'metrics' | 'sessions' | 'names' | 'pending' | 'topics' | 'mailboxView' | 'limits' | 'auth' | 'acceptingRequests' | 'sessionById' | 'fault' | 'cluster'
>;

export interface ServerInfo {
  version: string;
  /** When the broker started listening. */
  startedAt: Date;
  /** The broker's WebSocket URL. */
  url: string;
}

export function serverView(broker: MonitoredBroker, info: ServerInfo, now = Date.now()) {
  return {
    server: {
      version: info.version,
      startedAt: info.startedAt.toISOString(),
      uptimeSeconds: Math.floor((now - info.startedAt.getTime()) / 1000),
      url: info.url,
      node: process.version,
    },
    stats: broker.stats(),
    limits: { ...broker.limits },
  };
}

export const CONNECTION_SORTS = ['id', 'connected', 'names', 'pending', 'buffered'] as const;
export type ConnectionSort = (typeof CONNECTION_SORTS)[number];

export interface ConnectionQuery {
  sort: ConnectionSort;
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
  /** Only the connections holding this exact name. */
  name: string | undefined;
}

export const DEFAULT_CONNECTIONS_LIMIT = 1024;
export const MAX_CONNECTIONS_LIMIT = 10_000;
const CONNECTION_PARAMS = new Set(['sort', 'order', 'limit', 'offset', 'name']);

/** The query of `/v1/connections`, or every problem with it. */
export function connectionQuery(params: URLSearchParams): { query: ConnectionQuery } | { problems: string[] } {
  const problems: string[] = [];
  for (const key of new Set(params.keys())) if (!CONNECTION_PARAMS.has(key)) problems.push(`unknown parameter "${key}"`);
  const sort = params.get('sort') ?? 'connected';
  if (!(CONNECTION_SORTS as readonly string[]).includes(sort)) problems.push(`sort must be one of ${CONNECTION_SORTS.join(', ')}`);
  // Counts read best largest first; ids and times oldest first.
  const order = params.get('order') ?? (sort === 'id' || sort === 'connected' ? 'asc' : 'desc');
  if (order !== 'asc' && order !== 'desc') problems.push('order must be asc or desc');
  const integer = (key: string, fallback: number, min: number, max: number): number => {
    const text = params.get(key);
    if (text === null) return fallback;
    const value = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(value >= min && value <= max)) problems.push(`${key} must be an integer from ${min} to ${max}`);
    return value;
  };
  const limit = integer('limit', DEFAULT_CONNECTIONS_LIMIT, 1, MAX_CONNECTIONS_LIMIT);
  const offset = integer('offset', 0, 0, Number.MAX_SAFE_INTEGER);
  if (problems.length > 0) return { problems };
  return { query: { sort: sort as ConnectionSort, order: order as 'asc' | 'desc', limit, offset, name: params.get('name') ?? undefined } };
}

export function connectionsView(broker: MonitoredBroker, query: ConnectionQuery) {
  const { pending } = broker;
  const key: Record<ConnectionSort, (s: Session) => number | string> = {
    id: (s) => s.id,
    connected: (s) => s.connectedAt,
    names: (s) => s.names.size,
    pending: (s) => pending.openOf(s),
    buffered: (s) => s.bufferedBytes,
  };
  const by = key[query.sort];
  const sign = query.order === 'asc' ? 1 : -1;
  const { name } = query;
  const chosen = [...broker.sessions].filter((s) => name === undefined || s.names.has(name));
  const keyed = chosen.map((session) => ({ session, key: by(session) }));
  keyed.sort((a, b) => sign * compare(a.key, b.key) || a.session.connectedAt - b.session.connectedAt || compare(a.session.id, b.session.id));
  const page = keyed.slice(query.offset, query.offset + query.limit);
  return {
    total: chosen.length,
    offset: query.offset,
    limit: query.limit,
    connections: page.map(({ session }) => ({
      id: session.id,
      dialect: session.dialect,
      remoteAddress: session.remoteAddress,
      identity: session.identity?.id ?? null,
      names: [...session.names],
      subscriptions: broker.topics.countOf(session),
      pending: pending.openOf(session),
      inFlight: pending.inFlight(session),
      bufferedBytes: session.bufferedBytes,
      traffic: { ...session.traffic },
      connectedAt: new Date(session.connectedAt).toISOString(),
    })),
  };
}

function compare(a: number | string, b: number | string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The sessions holding `name`: its exclusive holder, or its pool's members in round-robin order. */
export function holdersOf(broker: MonitoredBroker, name: string): Session[] {
  const entry = broker.names.entry(name);
  if (entry === undefined) return [];
  return entry.shared ? [...entry.members] : [entry.holder];
}

export function namesView(broker: MonitoredBroker) {
  const held = new Set<string>();
  for (const session of broker.sessions) for (const name of session.names) held.add(name);
  return {
    names: [...held].sort(compare).map((name) => {
      const holders = holdersOf(broker, name);
      let inFlight = 0;
      for (const holder of holders) inFlight += inFlightUnder(broker, holder, name);
      return { name, shared: broker.names.entry(name)?.shared === true, holders: holders.map((s) => s.id), inFlight };
    }),
  };
}

/** Deliveries made to `holder` under `name` and not yet answered. */
function inFlightUnder(broker: MonitoredBroker, holder: Session, name: string): number {
  let count = 0;
  for (const delivery of broker.pending.deliveriesOf(holder)) if (delivery.name === name) count++;
  return count;
}

/**
 * One name: its holder or its pool's members, the deliveries in flight under it, its mailbox, and the
 * requests that ended for it (by outcome, with the p50, p99 and mean time to an answer) while it is among
 * the broker's MAX_NAME_STATS most recently used names. Undefined when the broker knows none of these.
 */
export function nameView(broker: MonitoredBroker, name: string, now = Date.now()) {
  const entry = broker.names.entry(name);
  const stats = broker.metrics.byName.get(name);
  let mailbox: { depth: number; bytes: number; oldestAgeMs: number | null } | null = null;
  if (broker.mailboxView.has(name)) {
    for (const box of broker.mailboxView.summaries()) {
      if (box.name === name) mailbox = { depth: box.depth, bytes: box.bytes, oldestAgeMs: box.oldestAt === undefined ? null : Math.max(0, now - box.oldestAt) };
    }
  }
  if (entry === undefined && stats === undefined && mailbox === null) return undefined;
  const holders = holdersOf(broker, name).map((session) => ({
    id: session.id,
    dialect: session.dialect,
    identity: session.identity?.id ?? null,
    remoteAddress: session.remoteAddress,
    inFlight: inFlightUnder(broker, session, name),
    connectedAt: new Date(session.connectedAt).toISOString(),
  }));
  let requests = null;
  if (stats !== undefined) {
    const { answers } = stats;
    const ms = (seconds: number | undefined) => (seconds === undefined ? null : Math.round(seconds * 1e6) / 1e3);
    let total = 0;
    for (const count of Object.values(stats.requests)) total += count;
    requests = {
      total,
      outcomes: { ...stats.requests },
      latency: {
        count: answers.count,
        p50Ms: ms(quantile(answers.counts, 0.5)),
        p99Ms: ms(quantile(answers.counts, 0.99)),
        meanMs: answers.count === 0 ? null : ms(answers.sum / answers.count),
      },
    };
  }
  return {
    name,
    held: entry !== undefined,
    shared: entry?.shared === true,
    holders,
    inFlight: holders.reduce((sum, holder) => sum + holder.inFlight, 0),
    mailbox,
    requests,
  };
}

export function topicsView(broker: MonitoredBroker) {
  const topics = [...broker.topics.counts()].sort((a, b) => compare(a[0], b[0]));
  return { topics: topics.map(([topic, subscribers]) => ({ topic, subscribers })) };
}

export function mailboxesView(broker: MonitoredBroker, now = Date.now()) {
  const boxes = [...broker.mailboxView.summaries()].sort((a, b) => compare(a.name, b.name));
  return {
    mailboxes: boxes.map((box) => ({
      name: box.name,
      depth: box.depth,
      bytes: box.bytes,
      oldestAgeMs: box.oldestAt === undefined ? null : Math.max(0, now - box.oldestAt),
    })),
  };
}
