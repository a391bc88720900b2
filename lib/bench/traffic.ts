/**
 * One run of a traffic scenario (issue 7): start the system's broker, start the load generator, let it
 * warm up, read the broker's and the load's CPU and memory at both ends of the measured window, collect
 * the load's count and latencies, stop both. Also the per-figure medians over runs.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isNodeBroker, sibling, startBroker } from './brokers.js';
import type { TrafficConfig } from './load/main.js';
import type { BenchOptions } from './options.js';
import { sleep, spawnNode, usage, type Child, type Message } from './proc.js';
import { summarizeProfile, type Window } from './profile.js';
import type { SystemId, TrafficScenario } from './scenarios.js';
import { median, type LatencySummary } from './stats.js';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 60_000;
const RESULT_TIMEOUT_MS = 15_000;

export interface TrafficFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Broker CPU time (user + system) per completed request, in microseconds. */
  brokerCpuUsPerRequest: number;
  /** Broker CPU time over the window, in percent of one core. */
  brokerCpuPercent: number;
  loadCpuPercent: number;
  brokerRssBytes: number;
  errors: number;
}

export interface TrafficRun extends TrafficFigures {
  completed: number;
  windowMs: number;
  latency: LatencySummary;
  brokerPeakRssBytes: number;
  lastError: string;
}

export interface TrafficResult {
  kind: 'traffic';
  scenario: string;
  system: SystemId;
  driver: string;
  runs: TrafficRun[];
  /** Per-figure medians over the runs; undefined when no run succeeded. */
  median: TrafficFigures | undefined;
  failure?: string;
}

/** Where a run's CPU profiles go (`--cpu-prof`): the file and its top functions over the window. */
export interface ProfileNote {
  file: string;
  top: string;
}

function profileArgs(options: BenchOptions, name: string): string[] {
  if (options.cpuProfDir === undefined) return [];
  return ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=${name}.cpuprofile`];
}

async function collectProfile(options: BenchOptions, name: string, window: Window | undefined, profiles: ProfileNote[]): Promise<void> {
  if (options.cpuProfDir === undefined) return;
  const file = join(options.cpuProfDir, `${name}.cpuprofile`);
  try {
    const top = summarizeProfile(file, 20, window);
    profiles.push({ file, top });
  } catch (error) {
    profiles.push({ file, top: `  not readable: ${error instanceof Error ? error.message : String(error)}` });
  }
}

export async function trafficRun(
  options: BenchOptions,
  scenario: TrafficScenario,
  system: SystemId,
  run: number,
  profiles: ProfileNote[],
): Promise<{ run: TrafficRun; driver: string }> {
  const tag = `${scenario.id}-${system}-run${run}`;
  const broker = await startBroker(system, { execArgv: isNodeBroker(system) ? profileArgs(options, `broker-${tag}`) : [] });
  let load: Child | undefined;
  let window: Window | undefined;
  try {
    const config: TrafficConfig = {
      mode: 'traffic',
      system,
      host: HOST,
      port: broker.port,
      requesters: options.requesters,
      responders: options.responders,
      inFlight: scenario.inFlight,
      payloadBytes: scenario.payloadBytes,
      payloadShape: options.payloadShape,
      dests: scenario.dests,
      gather: scenario.gather,
      maxSeconds: Math.ceil(options.warmupS + options.durationS + 30),
    };
    load = spawnNode(`${system} load`, sibling('./load/main.js'), [JSON.stringify(config)], { execArgv: profileArgs(options, `load-${tag}`) });
    const ready = await load.next('ready', READY_TIMEOUT_MS);
    await sleep(options.warmupS * 1000);
    const broker0 = usage(broker.pid);
    const load0 = usage(load.pid);
    const t0 = performance.now();
    const startUs = monotonicUs();
    load.send({ type: 'window-start' });
    await sleep(options.durationS * 1000);
    load.send({ type: 'window-end' });
    const broker1 = usage(broker.pid);
    const load1 = usage(load.pid);
    const elapsedMs = performance.now() - t0;
    window = { startUs, endUs: monotonicUs() };
    const result: Message = await load.next('result', RESULT_TIMEOUT_MS);
    await load.next('closed', RESULT_TIMEOUT_MS).catch(() => undefined);
    const completed = Number(result.count);
    const windowMs = Number(result.windowMs);
    if (completed === 0) throw new Error(`no request completed in ${Math.round(windowMs)} ms (${String(result.lastError)})`);
    const latency = result.latency as LatencySummary;
    const brokerCpuMs = broker1.cpuMs - broker0.cpuMs;
    return {
      driver: String(ready.driver),
      run: {
        requestsPerSecond: completed / (windowMs / 1000),
        p50Ms: latency.p50,
        p99Ms: latency.p99,
        maxMs: latency.max,
        brokerCpuUsPerRequest: (brokerCpuMs * 1000) / completed,
        brokerCpuPercent: (brokerCpuMs / elapsedMs) * 100,
        loadCpuPercent: ((load1.cpuMs - load0.cpuMs) / elapsedMs) * 100,
        brokerRssBytes: broker1.rssBytes,
        brokerPeakRssBytes: broker1.peakRssBytes,
        errors: Number(result.errors),
        lastError: String(result.lastError ?? ''),
        completed,
        windowMs,
        latency,
      },
    };
  } finally {
    await load?.stop(3000);
    await broker.child.stop(5000);
    if (isNodeBroker(system)) await collectProfile(options, `broker-${tag}`, window, profiles);
    await collectProfile(options, `load-${tag}`, window, profiles);
  }
}

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Per-figure medians over the successful runs. */
export function medianFigures(runs: readonly TrafficFigures[]): TrafficFigures | undefined {
  if (runs.length === 0) return undefined;
  const of = (key: keyof TrafficFigures) => median(runs.map((run) => run[key]));
  return {
    requestsPerSecond: of('requestsPerSecond'),
    p50Ms: of('p50Ms'),
    p99Ms: of('p99Ms'),
    maxMs: of('maxMs'),
    brokerCpuUsPerRequest: of('brokerCpuUsPerRequest'),
    brokerCpuPercent: of('brokerCpuPercent'),
    loadCpuPercent: of('loadCpuPercent'),
    brokerRssBytes: of('brokerRssBytes'),
    errors: of('errors'),
  };
}

/** 127.0.0.1, 127.0.0.2, ...: the n-th address of the loopback network 127.0.0.0/8. */
