/**
 * The monitor's `/metrics`: the broker's own counters (lib/broker/metrics.ts) and figures
 * (`broker.stats()`) in Prometheus' text format, through a prom-client Registry whose metrics read the
 * broker in their `collect()` callbacks, at scrape time only: the hot path never calls prom-client.
 *
 * Names carry the `switchboard_` prefix and base units (seconds, bytes), counters end in `_total`. Labels
 * are closed sets only (dialect, action, outcome, close code): never a name, topic, identity or
 * connection id. The request-duration histogram is the broker's own fixed buckets (0.5 ms to 300 s),
 * exposed by a custom collector that reads them. prom-client's default process metrics
 * (`process_*`, `nodejs_*`) are collected once per process and served by every monitor in it.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric, type MetricValueWithName } from 'prom-client';
import { DURATION_BUCKETS, REQUEST_OUTCOMES, type Histogram as BrokerHistogram, type RequestOutcome } from '../broker/metrics.js';
import { CLOSE_CODES } from '../protocol/wire.js';
import type { MonitoredBroker } from './introspect.js';

export const CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** Close codes kept as label values: the WebSocket standard's and the broker's own; any other is `other`. */
const KNOWN_CLOSE_CODES: ReadonlySet<number> = new Set([
  ...[1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015],
  ...Object.values(CLOSE_CODES),
]);

/** The event loop is sampled every 10 ms (the resolution prom-client's own lag metrics use). */
const LAG_RESOLUTION_MS = 10;

let processRegistry: Registry | undefined;

/** The process metrics, collected once per process however many monitors it runs. */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

interface LagWindow {
  p50: number;
  p99: number;
  max: number;
}

export interface BuildInfo {
  version: string;
}

export class BrokerExporter {
  readonly registry = new Registry();
  readonly #lag: IntervalHistogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  /** The event-loop delay between the last two scrapes, in seconds. */
  #window: LagWindow = { p50: 0, p99: 0, max: 0 };

  constructor(broker: MonitoredBroker, build: BuildInfo) {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    // A counter read from the broker: set to the broker's figure at each scrape (prom-client counters only add).
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    const counters = <L extends string>(name: string, help: string, label: L, read: () => Iterable<[string, number]>) =>
      new Counter<L>({
        name,
        help,
        labelNames: [label],
        registers,
        collect() {
          this.reset();
          for (const [value, count] of read()) this.inc({ [label]: value } as Record<L, string>, count);
        },
      });
    const { metrics } = broker;

    new Gauge({
      name: 'switchboard_build_info',
      help: 'The running switchboard: its version and the Node.js version, as labels; the value is 1.',
      labelNames: ['version', 'node'],
      registers,
    }).set({ version: build.version, node: process.version }, 1);

    new Gauge({
      name: 'switchboard_connections',
      help: 'Open connections, by dialect.',
      labelNames: ['dialect'],
      registers,
      collect() {
        let legacy = 0;
        for (const session of broker.sessions) if (session.dialect === 'legacy') legacy++;
        this.set({ dialect: 'legacy' }, legacy);
        this.set({ dialect: 'extended' }, broker.sessions.size - legacy);
      },
    });
    gauge('switchboard_names', 'Names held (a responder pool counts once).', () => broker.names.size);
    gauge('switchboard_subscriptions', 'Subscriptions held, over all connections.', () => broker.topics.size);
    gauge('switchboard_pending_requests', 'Requests waiting for their outcome.', () => broker.pending.open);
    gauge('switchboard_deliveries_in_flight', 'Deliveries that receivers may still answer.', () => broker.pending.deliveries);
    gauge('switchboard_mailboxes', 'Mailboxes of offline durable names.', () => broker.mailboxView.size);
    gauge('switchboard_mailbox_messages', 'Messages waiting in mailboxes.', () => broker.mailboxView.queued);
    gauge('switchboard_mailbox_bytes', 'Bytes of the messages waiting in mailboxes.', () => broker.mailboxView.bytes);

    counters('switchboard_frames_received_total', 'Frames received and decoded, by action.', 'action', () => Object.entries(metrics.framesIn));
    counters('switchboard_frames_sent_total', 'Frames written, by action.', 'action', () => Object.entries(metrics.framesOut));
    counter('switchboard_received_bytes_total', 'Bytes of the frames received.', () => metrics.bytesIn);
    counter('switchboard_sent_bytes_total', 'Bytes of the frames written.', () => metrics.bytesOut);
    counter('switchboard_bad_frames_total', 'Frames the decode refused (bad_frame, unknown_action, too_large).', () => metrics.badFrames);
    counter('switchboard_slow_consumer_closes_total', 'Connections closed as slow consumers (4008).', () => metrics.slowConsumerCloses);
    counter('switchboard_auth_failures_total', 'Refused authentications (unauthorized).', () => metrics.authFailures);
    counter('switchboard_late_answers_total', 'Answers dropped quietly because their request had ended.', () => broker.pending.lateAnswers);
    counter('switchboard_internal_errors_total', 'Faults inside the broker while handling a frame or a close.', () => metrics.internalErrors);
    counters('switchboard_requests_total', 'Requests ended, by outcome.', 'outcome', () => Object.entries(metrics.requests));
    const closesHelp = 'Connections closed, by close code (codes neither standard nor the broker\'s own count as "other").';
    counters('switchboard_connections_closed_total', closesHelp, 'code', () => {
      const byLabel = new Map<string, number>();
      for (const [code, count] of metrics.closes) {
        const label = KNOWN_CLOSE_CODES.has(code) ? String(code) : 'other';
        byLabel.set(label, (byLabel.get(label) ?? 0) + count);
      }
      return byLabel;
    });
    this.registry.registerMetric(durationCollector(() => metrics.durations));

    this.#lag.enable();
    const lag = (name: string, help: string, key: keyof LagWindow) => gauge(name, help, () => this.#window[key]);
    lag('switchboard_event_loop_lag_p50_seconds', 'Median event-loop delay between the last two scrapes.', 'p50');
    lag('switchboard_event_loop_lag_p99_seconds', '99th percentile of the event-loop delay between the last two scrapes.', 'p99');
    lag('switchboard_event_loop_lag_max_seconds', 'Longest event-loop delay between the last two scrapes.', 'max');
  }

  /** The text of a scrape: the broker's metrics, then the process's. */
  async scrape(): Promise<string> {
    const lag = this.#lag;
    // A sample is the time between two ticks of a LAG_RESOLUTION_MS timer: the lag is what exceeds it.
    const seconds = (ns: number) => (lag.count === 0 ? 0 : Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS) / 1000);
    this.#window = { p50: seconds(lag.percentile(50)), p99: seconds(lag.percentile(99)), max: seconds(lag.max) };
    lag.reset();
    const own = await this.registry.metrics();
    return own + (await processMetrics().metrics());
  }

  close(): void {
    this.#lag.disable();
  }
}

const DURATION_NAME = 'switchboard_request_duration_seconds';

type DurationValue = MetricValueWithName<'outcome' | 'le'>;

/**
 * `switchboard_request_duration_seconds{outcome}`: the broker's fixed-bucket histograms
 * (BrokerMetrics.durations), written out as a Prometheus histogram at scrape time. A custom collector:
 * an object the registry serves like its own metrics, through the same `get()` their values come from
 * (prom-client has no way to set a Histogram's buckets, only to observe values one at a time).
 */
function durationCollector(read: () => Record<RequestOutcome, BrokerHistogram>): Metric {
  const collector = {
    name: DURATION_NAME,
    help: 'Time from a request to its outcome, by outcome.',
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const durations = read();
      const values: DurationValue[] = [];
      for (const outcome of REQUEST_OUTCOMES) {
        const histogram = durations[outcome];
        let cumulative = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          cumulative += histogram.counts[i];
          values.push({ metricName: `${DURATION_NAME}_bucket`, labels: { outcome, le }, value: cumulative });
        });
        values.push({ metricName: `${DURATION_NAME}_bucket`, labels: { outcome, le: '+Inf' }, value: histogram.count });
        values.push({ metricName: `${DURATION_NAME}_sum`, labels: { outcome }, value: histogram.sum });
        values.push({ metricName: `${DURATION_NAME}_count`, labels: { outcome }, value: histogram.count });
      }
      return { name: collector.name, help: collector.help, type: collector.type, aggregator: collector.aggregator, values };
    },
  };
  return collector as unknown as Metric;
}
