/**
 * The idle scenario (issue 7): broker memory per idle registered connection. The broker's RSS is read
 * after a garbage collection before and after the connections are made; the connections come from
 * several load processes (one descriptor each) and several loopback addresses.
 */
import { performance } from 'node:perf_hooks';
import { isNodeBroker, sibling, startBroker } from './brokers.js';
import type { IdleConfig } from './load/main.js';
import type { BenchOptions } from './options.js';
import { fileLimits, sleep, spawnNode, usage, type Child } from './proc.js';
import type { IdleScenario, SystemId } from './scenarios.js';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 60_000;
const IDLE_CONCURRENCY = 64;
const IDLE_PROGRESS_MS = 5000;
/** Descriptors a process needs beyond one per connection. */
const FD_SLACK = 256;
/**
 * Idle connections per client address: they come from 127.0.0.1, 127.0.0.2, ... (all loopback), so a
 * broker that bounds connections per address (switchboard: maxConnectionsPerAddress, 1000) keeps its
 * default limits.
 */
const CONNECTIONS_PER_ADDRESS = 500;

export interface IdleResult {
  kind: 'idle';
  scenario: string;
  system: SystemId;
  driver: string;
  requested: number;
  connected: number;
  failed: number;
  connectSeconds: number;
  baselineRssBytes: number;
  rssBytes: number;
  bytesPerConnection: number;
  lastError: string;
  failure?: string;
}

export function loopbackAddress(n: number): string {
  const host = n + 1;
  return `127.${(host >> 16) & 255}.${(host >> 8) & 255}.${host & 255}`;
}

async function gc(broker: Child, system: SystemId): Promise<void> {
  if (!isNodeBroker(system)) return;
  broker.send({ type: 'gc' });
  await broker.next('gc-done', 5000).catch(() => undefined);
}

export async function idleRun(
  options: BenchOptions,
  scenario: IdleScenario,
  system: SystemId,
  progress: (line: string) => void,
): Promise<IdleResult> {
  const limits = fileLimits();
  const wanted = scenario.connections;
  // The broker holds every connection: it cannot take more than its descriptor limit allows.
  const possible = Math.max(1, Math.min(wanted, limits.hard - FD_SLACK));
  const result: IdleResult = {
    kind: 'idle',
    scenario: scenario.id,
    system,
    driver: '',
    requested: wanted,
    connected: 0,
    failed: 0,
    connectSeconds: 0,
    baselineRssBytes: 0,
    rssBytes: 0,
    bytesPerConnection: 0,
    lastError: '',
  };
  if (possible < wanted) progress(`${system}: the open-file hard limit (${limits.hard}) allows ${possible} connections, not ${wanted}`);
  const label = `${system.padEnd(16)}`;
  let broker: Awaited<ReturnType<typeof startBroker>> | undefined;
  const loads: Child[] = [];
  try {
    broker = await startBroker(system, {
      execArgv: isNodeBroker(system) ? ['--expose-gc'] : [],
      fileDescriptors: possible + FD_SLACK,
    });
    await gc(broker.child, system);
    await sleep(300);
    result.baselineRssBytes = usage(broker.pid).rssBytes;
    const processes = Math.ceil(possible / options.connectionsPerProcess);
    const t0 = performance.now();
    for (let p = 0; p < processes; p++) {
      const from = Math.floor((p * possible) / processes);
      const to = Math.floor(((p + 1) * possible) / processes);
      const config: IdleConfig = {
        mode: 'idle',
        system,
        host: HOST,
        port: broker.port,
        names: Array.from({ length: to - from }, (_, i) => `idle-${from + i}`),
        addresses: Array.from({ length: to - from }, (_, i) => loopbackAddress(Math.floor((from + i) / CONNECTIONS_PER_ADDRESS))),
        concurrency: IDLE_CONCURRENCY,
        maxSeconds: 600,
      };
      loads.push(spawnNode(`${system} idle load ${p + 1}`, sibling('./load/main.js'), [JSON.stringify(config)], { fileDescriptors: to - from + FD_SLACK }));
    }
    const connectTimeout = Math.max(READY_TIMEOUT_MS, possible * 20);
    const counts = loads.map(() => 0);
    const ticker = setInterval(() => {
      loads.forEach((load, i) => (counts[i] = Math.max(counts[i], ...load.take('progress').map((m) => Number(m.connected)))));
      progress(`${label} ${counts.reduce((a, b) => a + b, 0).toLocaleString('en-US')} connected so far`);
    }, IDLE_PROGRESS_MS);
    const readies = await Promise.all(loads.map((load) => load.next('ready', connectTimeout))).finally(() => clearInterval(ticker));
    result.connectSeconds = (performance.now() - t0) / 1000;
    result.driver = String(readies[0]?.driver ?? '');
    result.connected = readies.reduce((sum, ready) => sum + Number(ready.connected), 0);
    result.failed = readies.reduce((sum, ready) => sum + Number(ready.failed), 0);
    result.lastError = readies.map((ready) => String(ready.lastError ?? '')).find((text) => text !== '') ?? '';
    if (result.connected === 0) throw new Error(`no connection succeeded (${result.lastError})`);
    await sleep(500);
    await gc(broker.child, system);
    await sleep(300);
    result.rssBytes = usage(broker.pid).rssBytes;
    result.bytesPerConnection = (result.rssBytes - result.baselineRssBytes) / result.connected;
    progress(
      `${label} ${result.connected.toLocaleString('en-US')} connected in ${result.connectSeconds.toFixed(1)} s` +
        (result.failed > 0 ? ` (${result.failed} failed: ${result.lastError.slice(0, 80)})` : '') +
        `  broker RSS ${(result.baselineRssBytes / 2 ** 20).toFixed(1)} → ${(result.rssBytes / 2 ** 20).toFixed(1)} MiB` +
        `  ${(result.bytesPerConnection / 1024).toFixed(1)} KiB per connection`,
    );
  } catch (error) {
    result.failure = error instanceof Error ? error.message : String(error);
    progress(`${label} FAILED: ${result.failure}`);
  } finally {
    await Promise.all(loads.map((load) => load.stop(2000)));
    await broker?.child.stop(5000);
  }
  return result;
}
