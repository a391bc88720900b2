/**
 * The report of the cluster bench (lib/bench/cluster.ts): one row per system with the median of each
 * figure over the rounds, a Markdown table, and issue 14's targets, each said met or not (or not
 * judged when a system it compares with was skipped). Pure functions, so that the test can feed them.
 */
import { median } from './stats.js';

/** The figures of one system in one round. */
export interface Figures {
  /** Requests per second, 64 B, 32 in flight. */
  readonly rate32: number;
  /** Milliseconds, 1 in flight. */
  readonly p50: number;
  readonly p99: number;
  /** Milliseconds to the refusal of a request to a name nobody holds. */
  readonly noRespP50: number;
  readonly noRespP99: number;
  /** CPU time of the system's processes (nodes, and Redis where it has one) per request at 32 in flight, µs. */
  readonly cpuUs: number;
  /** Of which Redis's. */
  readonly redisUs: number;
}

export interface Row {
  readonly system: string;
  readonly note: string;
  /** The median of each figure over the rounds measured; absent when skipped. */
  readonly figures?: Figures;
  readonly rounds: number;
  /** Why the system has no figures, as printed in their place ("skipped: ..." or "failed: ..."). */
  readonly skipped?: string;
}

/** The median of each figure over `rounds` (which must not be empty). */
export function medianOf(rounds: readonly Figures[]): Figures {
  const pick = (key: keyof Figures) => median(rounds.map((round) => round[key]));
  return {
    rate32: pick('rate32'),
    p50: pick('p50'),
    p99: pick('p99'),
    noRespP50: pick('noRespP50'),
    noRespP99: pick('noRespP99'),
    cpuUs: pick('cpuUs'),
    redisUs: pick('redisUs'),
  };
}

export function table(rows: readonly Row[]): string {
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  const lines = [
    '| system | 64 B, 32 in flight | server CPU per request | 1 in flight p50 | p99 | no_responders p50 | p99 | setup |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const f = row.figures;
    if (f === undefined) {
      lines.push(`| ${row.system} | ${(row.skipped ?? 'not measured').replaceAll('|', '/')} | | | | | | ${row.note} |`);
      continue;
    }
    const rate = `${Math.round(f.rate32).toLocaleString('en')} req/s`;
    const cpu = `${Math.round(f.cpuUs)} µs${f.redisUs > 0 ? ` (Redis ${Math.round(f.redisUs)})` : ''}`;
    lines.push(`| ${row.system} | ${rate} | ${cpu} | ${ms(f.p50)} | ${ms(f.p99)} | ${ms(f.noRespP50)} | ${ms(f.noRespP99)} | ${row.note} |`);
  }
  return `${lines.join('\n')}\n`;
}

export interface Verdict {
  readonly target: string;
  /** undefined: not judged (a system it needs was skipped). */
  readonly met: boolean | undefined;
  readonly measured: string;
}

/** Issue 14's targets, judged on the medians of this run. */
export function targets(rows: readonly Row[]): Verdict[] {
  const of = (system: string) => rows.find((row) => row.system === system)?.figures;
  const cluster = of('switchboard-cluster');
  const verdicts: Verdict[] = [];
  const ratio = (target: string, mine: Figures | undefined, theirs: Figures | undefined, least: number) => {
    if (mine === undefined || theirs === undefined || theirs.rate32 <= 0) return verdicts.push({ target, met: undefined, measured: 'not measured' });
    const times = mine.rate32 / theirs.rate32;
    verdicts.push({ target, met: times >= least, measured: `${times.toFixed(2)}x` });
  };
  const atMost = (target: string, value: number | undefined, limit: number) => {
    if (value === undefined) return verdicts.push({ target, met: undefined, measured: 'not measured' });
    verdicts.push({ target, met: value <= limit, measured: `${value.toFixed(2)} ms` });
  };
  ratio('cross-node 64 B, 32 in flight >= 2x socketio-cluster', cluster, of('socketio-cluster'), 2);
  ratio('cross-node 64 B, 32 in flight >= nats-cluster', cluster, of('nats-cluster'), 1);
  atMost('cross-node 1 in flight p50 <= 0.8 ms', cluster?.p50, 0.8);
  atMost('cross-node 1 in flight p99 <= 3 ms', cluster?.p99, 3);
  atMost('cross-node no_responders p50 <= 0.5 ms', cluster?.noRespP50, 0.5);
  ratio('one node with --cluster >= 0.8x the embedded broker', of('switchboard-cluster-single'), of('switchboard'), 0.8);
  return verdicts;
}

export function targetLines(verdicts: readonly Verdict[]): string {
  const word = (met: boolean | undefined) => (met === undefined ? 'not judged' : met ? 'met' : 'NOT met');
  return verdicts.map((verdict) => `- ${verdict.target}: ${verdict.measured}, ${word(verdict.met)}\n`).join('');
}
