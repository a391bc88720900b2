/**
 * The broker's own counters: what it counts on its hot path, in plain numbers, so that counting costs
 * an increment and nothing else. Exporters (the monitor's Prometheus endpoint, `broker.stats()`) read
 * them when asked. Labels are closed sets (actions, outcomes, close codes): never a name, topic or
 * identity from the wire.
 */
import { BROKER_FRAMES, CLIENT_FRAMES, OUTCOME_CODES, type BrokerAction, type ClientAction } from '../protocol/index.js';

/** How a request ended: its answer, an error answer, a gather, a failure code, or its sender left. */
export const REQUEST_OUTCOMES = ['answer', 'error_answer', 'gathered', ...OUTCOME_CODES, 'sender_gone'] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/** Upper bounds of the request-duration histogram, in seconds: 0.5 ms to 300 s. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] as const;

/** A fixed-bucket histogram: counts per bucket (cumulative only when read), sum and count. */
export class Histogram {
  /** Per bucket (non-cumulative), and one more for +Inf. */
  readonly counts = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]) i++;
    this.counts[i]++;
    this.sum += seconds;
    this.count++;
  }
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  const record = Object.create(null) as Record<K, number>;
  for (const key of keys) record[key] = 0;
  return record;
}

export class BrokerMetrics {
  readonly framesIn = zeros(Object.keys(CLIENT_FRAMES) as ClientAction[]);
  readonly framesOut = zeros(Object.keys(BROKER_FRAMES) as BrokerAction[]);
  bytesIn = 0;
  bytesOut = 0;
  /** Frames refused by the decode (bad_frame, unknown_action, too_large). */
  badFrames = 0;
  internalErrors = 0;
  slowConsumerCloses = 0;
  authFailures = 0;
  readonly requests = zeros(REQUEST_OUTCOMES);
  readonly durations = Object.fromEntries(REQUEST_OUTCOMES.map((o) => [o, new Histogram()])) as Record<RequestOutcome, Histogram>;
  /** Connections closed, by close code (a closed set: WebSocket codes). */
  readonly closes = new Map<number, number>();

  outcome(outcome: RequestOutcome, startedAt: number): void {
    this.requests[outcome]++;
    this.durations[outcome].observe((performance.now() - startedAt) / 1000);
  }

  closed(code: number): void {
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
  }
}
