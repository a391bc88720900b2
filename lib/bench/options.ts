/**
 * The bench's command line: parsed once, every problem reported together, then frozen.
 */
import { parseArgs } from 'node:util';
import {
  DEFAULT_SYSTEMS,
  SCENARIO_IDS,
  SYSTEM_IDS,
  SYSTEM_TITLES,
  scenario,
  type PayloadShape,
  type Scenario,
  type ScenarioId,
  type SystemId,
} from './scenarios.js';

export interface BenchOptions {
  readonly systems: readonly SystemId[];
  readonly scenarios: readonly Scenario[];
  readonly requesters: number;
  readonly responders: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly runs: number;
  readonly quick: boolean;
  /** Where the raw results go. */
  readonly jsonPath: string;
  /** Also write the tables as Markdown here. */
  readonly markdownPath: string | undefined;
  readonly payloadShape: PayloadShape;
  /** Write V8 CPU profiles of the Node brokers and load generators here, and print their top functions. */
  readonly cpuProfDir: string | undefined;
  /** Idle connections per load process (each process needs one descriptor per connection). */
  readonly connectionsPerProcess: number;
}

export const DEFAULTS = {
  requesters: 4,
  responders: 4,
  durationS: 8,
  warmupS: 1,
  runs: 3,
  idleConnections: 10_000,
} as const;

/** `--quick`: about 2 s per system and scenario, one run, fewer idle connections. */
export const QUICK = { durationS: 1.5, warmupS: 0.5, runs: 1, idleConnections: 2000 } as const;

export const USAGE = `usage: switchboard bench [options]

Starts each system's broker in its own process, drives it from a load-generator process, and prints
requests/s, latency (p50, p99, max), broker CPU per request and broker memory, each with its ratio to
the JSON relay measured in the same run. Raw results go to a JSON file.

options:
  --systems LIST         comma-separated, default ${DEFAULT_SYSTEMS.join(',')}
                         (available: ${SYSTEM_IDS.join(', ')})
  --scenarios LIST       comma-separated, default ${SCENARIO_IDS.join(',')}
  --requesters N         requester clients (default ${DEFAULTS.requesters})
  --responders M         responder clients, which echo (default ${DEFAULTS.responders})
  --in-flight K          requests in flight per requester (overrides the scenarios' 32 and 1)
  --payload BYTES        request size as JSON (overrides the scenarios' 64 and 4096)
  --payload-shape SHAPE  records (default: an object of small records padded with a string) or
                         string (one string: the cheapest JSON to parse and write)
  --duration SECONDS     measured time per run (default ${DEFAULTS.durationS})
  --warmup SECONDS       traffic before the measured time (default ${DEFAULTS.warmupS})
  --runs N               runs per system and scenario; figures are medians (default ${DEFAULTS.runs})
  --idle-connections N   connections of the idle scenario (default ${DEFAULTS.idleConnections})
  --quick                ${QUICK.durationS} s measured after ${QUICK.warmupS} s, 1 run, ${QUICK.idleConnections} idle connections (for CI)
  --json FILE            raw results (default bench-results/<timestamp>.json)
  --markdown FILE        also write the tables as Markdown (for the README)
  --cpu-prof DIR         write CPU profiles of the Node brokers and load generators to DIR
  --help

scenarios:
  small      64 B, 32 in flight per requester
  large      4 KiB, 32 in flight per requester
  serial     64 B, 1 in flight per requester
  serial-large  4 KiB, 1 in flight per requester
  two-dest   64 B, 32 in flight, each request to two responders, the first answer wins
  gather     64 B, 32 in flight, each request to two responders, every answer gathered
             (skipped for wsmsgbroker, which has no gather)
  idle       idle registered connections: broker memory per connection

systems:
${SYSTEM_IDS.map((id) => `  ${id.padEnd(16)} ${SYSTEM_TITLES[id]}`).join('\n')}

switchboard bench --cluster [--quick] [--seconds S] [--rounds N]: request/answer across two nodes
(switchboard on Redis, socket.io's Redis adapter, a NATS cluster); see lib/bench/README.md.
`;

export type Parsed = { help: true } | { help: false; options: BenchOptions };

/** Parse the bench's arguments; throws one Error listing every problem. */
export function parseOptions(argv: string[], now = new Date()): Parsed {
  const { values } = parseArgs({
    args: argv,
    options: {
      systems: { type: 'string' },
      scenarios: { type: 'string' },
      requesters: { type: 'string' },
      responders: { type: 'string' },
      'in-flight': { type: 'string' },
      payload: { type: 'string' },
      'payload-shape': { type: 'string', default: 'records' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      runs: { type: 'string' },
      'idle-connections': { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      markdown: { type: 'string' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return { help: true };

  const problems: string[] = [];
  const quick = values.quick;
  const integer = (key: string, value: string | undefined, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) problems.push(`--${key} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`);
    return n;
  };
  const seconds = (key: string, value: string | undefined, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > 600) problems.push(`--${key} must be a number of seconds from ${min} to 600, not ${JSON.stringify(value)}`);
    return n;
  };
  const list = <T extends string>(key: string, value: string | undefined, known: readonly T[], fallback: readonly T[]): T[] => {
    if (value === undefined) return [...fallback];
    const items = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
    const unknown = items.filter((item) => !(known as readonly string[]).includes(item));
    if (unknown.length > 0) problems.push(`--${key}: unknown ${unknown.map((u) => JSON.stringify(u)).join(', ')} (known: ${known.join(', ')})`);
    if (items.length === 0) problems.push(`--${key} names nothing`);
    return [...new Set(items)] as T[];
  };

  const systems = list<SystemId>('systems', values.systems, SYSTEM_IDS, DEFAULT_SYSTEMS);
  const scenarioIds = list<ScenarioId>('scenarios', values.scenarios, SCENARIO_IDS, SCENARIO_IDS);
  const requesters = integer('requesters', values.requesters, DEFAULTS.requesters, 1, 256);
  const responders = integer('responders', values.responders, DEFAULTS.responders, 1, 256);
  const inFlight = values['in-flight'] === undefined ? undefined : integer('in-flight', values['in-flight'], 0, 1, 1024);
  const payloadBytes = values.payload === undefined ? undefined : integer('payload', values.payload, 0, 21, 512 * 1024);
  const idleConnections = integer('idle-connections', values['idle-connections'], quick ? QUICK.idleConnections : DEFAULTS.idleConnections, 1, 100_000);
  const durationS = seconds('duration', values.duration, quick ? QUICK.durationS : DEFAULTS.durationS, 0.2);
  const warmupS = seconds('warmup', values.warmup, quick ? QUICK.warmupS : DEFAULTS.warmupS, 0);
  const runs = integer('runs', values.runs, quick ? QUICK.runs : DEFAULTS.runs, 1, 99);
  const payloadShape = values['payload-shape'] as PayloadShape;
  if (payloadShape !== 'records' && payloadShape !== 'string') problems.push(`--payload-shape must be records or string, not ${JSON.stringify(payloadShape)}`);
  if (scenarioIds.includes('two-dest') && responders < 2) problems.push('the two-dest scenario needs --responders 2 or more');
  if (problems.length > 0) throw new Error(`invalid options:\n  ${problems.join('\n  ')}`);

  const stamp = now.toISOString().replace(/[:.]/g, '-');
  const options: BenchOptions = {
    systems,
    scenarios: scenarioIds.map((id) => scenario(id, { payloadBytes, inFlight, idleConnections })),
    requesters,
    responders,
    durationS,
    warmupS,
    runs,
    quick,
    jsonPath: values.json ?? `bench-results/${stamp}.json`,
    markdownPath: values.markdown,
    payloadShape,
    cpuProfDir: values['cpu-prof'],
    connectionsPerProcess: 5000,
  };
  return { help: false, options: Object.freeze(options) };
}

/**
 * The options of the round-based benches (`--cluster`, `--durability`): `--quick` (1 s, 1 round),
 * `--seconds S`, `--rounds N`, `--help`; `problems` says what was wrong, empty when nothing was.
 */
export function parseRounds(args: readonly string[]): { seconds: number; rounds: number; help: boolean; problems: string[] } {
  let seconds = 5;
  let rounds = 3;
  const problems: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--quick') {
      seconds = 1;
      rounds = 1;
    } else if (arg === '--help' || arg === '-h') {
      return { seconds, rounds, help: true, problems };
    } else if (arg === '--seconds' || arg === '--rounds') {
      const value = Number(args[++i]);
      const ok = arg === '--seconds' ? Number.isFinite(value) && value > 0 && value <= 600 : Number.isInteger(value) && value >= 1 && value <= 20;
      if (!ok) problems.push(`${arg} takes ${arg === '--seconds' ? 'seconds, more than 0 and at most 600' : 'a whole number from 1 to 20'}, not ${args[i] ?? 'nothing'}`);
      else if (arg === '--seconds') seconds = value;
      else rounds = value;
    } else {
      problems.push(`unknown option ${arg}`);
    }
  }
  return { seconds, rounds, help: false, problems };
}
