/**
 * The broker's own counters: what it counts on its hot path, in plain numbers, so that counting costs
 * an increment and nothing else. Exporters (the monitor's Prometheus endpoint, `broker.stats()`) read
 * them when asked. Labels are closed sets (actions, outcomes, close codes): never a name, topic or
 * identity from the wire. The one table keyed by names, `byName`, is bounded and read only by the
 * monitor's JSON views (lib/monitor), never exported as metric labels.
 */
import { BROKER_ACTIONS, CLIENT_ACTIONS, OUTCOME_CODES } from '../protocol/wire.js';

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

/** The outcomes that are answers: their durations are the time to an answer. */
export const ANSWERED: ReadonlySet<RequestOutcome> = new Set(['answer', 'error_answer', 'gathered']);

/** Names whose requests are counted one by one (`BrokerMetrics.byName`); the least recently used go first. */
export const MAX_NAME_STATS = 1000;
/** How many least recently used names go at once when a new name finds the table full. */
export const NAME_STATS_EVICTED = 100;

/** The requests that ended for one destination name: by outcome, and the time to its answers. */
export class NameStats {
  readonly requests = zeros(REQUEST_OUTCOMES);
  /** Durations of the outcomes in ANSWERED only: a timeout says how long the deadline was, not the name. */
  readonly answers = new Histogram();
  /** When it was last counted, on the table's own clock (BrokerMetrics.byName). */
  used = 0;
}

const NO_NAMES: readonly string[] = [];

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  const record = Object.create(null) as Record<K, number>;
  for (const key of keys) record[key] = 0;
  return record;
}

export class BrokerMetrics {
  readonly framesIn = zeros(CLIENT_ACTIONS);
  readonly framesOut = zeros(BROKER_ACTIONS);
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
  /**
   * Requests ended, by destination name: at most MAX_NAME_STATS names. A new name that finds it full
   * makes the NAME_STATS_EVICTED least recently used go, in one pass: counting stays a lookup and a
   * stamp, with no reordering on the hot path. Names come off the wire: a Map, never a plain object.
   */
  readonly byName = new Map<string, NameStats>();
  #clock = 0;

  /**
   * A request ended with `outcome`; `names` are the destinations it counts for (lib/broker/outcomes.ts):
   * the name that answered, or every name asked.
   */
  outcome(outcome: RequestOutcome, startedAt: number, names: string | readonly string[] = NO_NAMES): void {
    const seconds = (performance.now() - startedAt) / 1000;
    this.requests[outcome]++;
    this.durations[outcome].observe(seconds);
    if (typeof names === 'string') this.#named(names, outcome, seconds);
    else for (const name of names) this.#named(name, outcome, seconds);
  }

  closed(code: number): void {
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
  }

  /** Count for `name`, which becomes the most recently used. */
  #named(name: string, outcome: RequestOutcome, seconds: number): void {
    let stats = this.byName.get(name);
    if (stats === undefined) {
      if (this.byName.size >= MAX_NAME_STATS) this.#evict();
      stats = new NameStats();
      this.byName.set(name, stats);
    }
    stats.used = ++this.#clock;
    stats.requests[outcome]++;
    if (ANSWERED.has(outcome)) stats.answers.observe(seconds);
  }

  /** Drop the NAME_STATS_EVICTED least recently used names. */
  #evict(): void {
    const uses = [...this.byName.values()].map((stats) => stats.used).sort((a, b) => a - b);
    const last = uses[Math.min(NAME_STATS_EVICTED, uses.length) - 1];
    for (const [name, stats] of this.byName) if (stats.used <= last) this.byName.delete(name);
  }
}
