/**
 * What the dashboard's stream carries (lib/monitor/README.md, "The stream"): once a tick, a snapshot of
 * what the broker holds, its requests ended since the start by outcome, and one chart point: requests
 * per second by outcome and the p50 and p99 of the time to an answer, both from the differences of the
 * broker's counters and duration histograms (lib/broker/metrics.ts) since the previous tick. Quantiles
 * come from the histogram's fixed buckets, interpolated within the bucket as Prometheus'
 * `histogram_quantile` does: a figure within its bucket's bounds, not an exact sample.
 */
import { ANSWERED, DURATION_BUCKETS, REQUEST_OUTCOMES, type Histogram, type RequestOutcome } from '../broker/metrics.js';
import type { MonitoredBroker } from './introspect.js';

/** One chart point: a tick's rates by outcome (only those that moved) and its answers' p50 and p99. */
export interface Point {
  /** When, in milliseconds since the epoch. */
  t: number;
  rates: Partial<Record<RequestOutcome, number>>;
  /** Null when no request was answered during the tick. */
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface Snapshot {
  t: number;
  stats: {
    connections: number;
    names: number;
    subscriptions: number;
    pending: number;
    deliveries: number;
    mailboxes: number;
    queued: number;
    queuedBytes: number;
  };
  /** Requests ended since the broker started, by outcome. */
  totals: Record<RequestOutcome, number>;
  /** Null for the first snapshot of a sampler: it has no previous tick to differ from. */
  point: Point | null;
  /** The nodes of a cluster: always null until cluster mode exists. */
  nodes: null;
}

/**
 * The `q` quantile (0 to 1) of a histogram's per-bucket counts (DURATION_BUCKETS, then +Inf), in
 * seconds; undefined when it holds nothing. A value in the +Inf bucket reads as the largest bound.
 */
export function quantile(counts: readonly number[], q: number): number | undefined {
  let total = 0;
  for (const count of counts) total += count;
  if (total === 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] > 0 && below + counts[i] >= rank) {
      if (i >= DURATION_BUCKETS.length) return DURATION_BUCKETS[DURATION_BUCKETS.length - 1];
      const lower = i === 0 ? 0 : DURATION_BUCKETS[i - 1];
      return lower + (DURATION_BUCKETS[i] - lower) * ((rank - below) / counts[i]);
    }
    below += counts[i];
  }
  return DURATION_BUCKETS[DURATION_BUCKETS.length - 1];
}

const toMs = (seconds: number | undefined): number | null => (seconds === undefined ? null : Math.round(seconds * 1e6) / 1e3);

/** The bucket counts of every answered outcome, added up. */
function answeredCounts(durations: Record<RequestOutcome, Histogram>): number[] {
  const counts = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  for (const outcome of ANSWERED) durations[outcome].counts.forEach((count, i) => (counts[i] += count));
  return counts;
}

/** Takes snapshots of one broker, each point from the difference with the previous one. */
export class Sampler {
  readonly #broker: MonitoredBroker;
  #previous: { at: number; requests: Record<RequestOutcome, number>; answered: number[] } | undefined;

  constructor(broker: MonitoredBroker) {
    this.#broker = broker;
  }

  /** Forget the previous tick: the next snapshot starts the differences anew (after a pause). */
  reset(): void {
    this.#previous = undefined;
  }

  take(now = Date.now(), at = performance.now()): Snapshot {
    const broker = this.#broker;
    const { metrics } = broker;
    const requests = { ...metrics.requests };
    const answered = answeredCounts(metrics.durations);
    let point: Point | null = null;
    const previous = this.#previous;
    if (previous !== undefined && at > previous.at) {
      const seconds = (at - previous.at) / 1000;
      const rates: Point['rates'] = {};
      for (const outcome of REQUEST_OUTCOMES) {
        const delta = requests[outcome] - previous.requests[outcome];
        if (delta > 0) rates[outcome] = Math.round((delta / seconds) * 100) / 100;
      }
      const delta = answered.map((count, i) => count - previous.answered[i]);
      point = { t: now, rates, p50Ms: toMs(quantile(delta, 0.5)), p99Ms: toMs(quantile(delta, 0.99)) };
    }
    this.#previous = { at, requests, answered };
    const stats = broker.stats();
    return {
      t: now,
      stats: {
        connections: stats.connections,
        names: stats.names,
        subscriptions: stats.subscriptions,
        pending: stats.pending,
        deliveries: stats.deliveries,
        mailboxes: broker.mailboxView.size,
        queued: stats.queued,
        queuedBytes: stats.queuedBytes,
      },
      totals: requests,
      point,
      nodes: null,
    };
  }
}
