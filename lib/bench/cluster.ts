/**
 * `switchboard bench --cluster` (issue 14, item 6): request/answer between two broker nodes, the
 * requester on one and the responder on the other, in one run beside the systems users would otherwise
 * pick: switchboard's cluster on Redis, socket.io with `@socket.io/redis-adapter` (a cross-server
 * `emitWithAck`), and a two-server NATS cluster (`nats-server --routes`, when installed). Also switchboard
 * with `--cluster` with both clients on one node, and the embedded broker, for the cost of cluster mode.
 *
 * For each system: 64 B requests at 32 in flight (requests per second), at 1 in flight (latency p50,
 * p99), and requests to a name nobody holds (the time to `no_responders`, p50, p99). One load generator
 * (this process) drives every system through the same adapters as `npm run bench` (lib/bench/load).
 * Each broker node, Redis and nats-server run in processes of their own; everything is stopped at the end.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Adapter, Target } from './load/adapter.js';
import { natsClient } from './load/nats.js';
import { makePayload } from './load/payload.js';
import { socketioClient } from './load/socketio.js';
import { switchboardClient } from './load/switchboard.js';
import { summarize } from './stats.js';

const HOST = '127.0.0.1';
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const SOCKETIO_NODE = fileURLToPath(new URL('./brokers/socketio-cluster.js', import.meta.url));
const START_MS = 15_000;

export interface ClusterBenchOptions {
  /** Seconds measured per figure. */
  readonly seconds: number;
  readonly log: (line: string) => void;
}

interface Row {
  system: string;
  note: string;
  inFlight32?: number;
  p50?: number;
  p99?: number;
  noRespP50?: number;
  noRespP99?: number;
  skipped?: string;
}

interface Setup {
  readonly system: string;
  readonly note: string;
  readonly requesterAt: Target;
  readonly responderAt: Target;
  readonly adapter: (target: Target) => Adapter;
}

/** Processes and folders to clean up, whatever happens. */
class Owned {
  readonly #children: ChildProcess[] = [];
  readonly #dirs: string[] = [];

  child(child: ChildProcess): ChildProcess {
    this.#children.push(child);
    return child;
  }

  dir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.#dirs.push(dir);
    return dir;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 3000).unref();
          }),
      ),
    );
    for (const dir of this.#dirs) rmSync(dir, { recursive: true, force: true });
  }
}

export async function runClusterBench(options: ClusterBenchOptions): Promise<string> {
  const owned = new Owned();
  const rows: Row[] = [];
  try {
    const redis = await startRedis(owned);
    options.log(`redis-server on ${redis}`);
    const setups: Array<() => Promise<Setup>> = [
      async () => {
        const port = await serve(owned, []);
        const at = target(port);
        return { system: 'switchboard', note: 'embedded, one process', requesterAt: at, responderAt: at, adapter: switchboardClient };
      },
      async () => {
        const [one, two] = await Promise.all([serve(owned, ['--cluster', redis, '--cluster-prefix', 'bench1:']), serve(owned, ['--cluster', redis, '--cluster-prefix', 'bench1:'])]);
        return { system: 'switchboard-cluster', note: 'two nodes, requester and responder on different nodes', requesterAt: target(one), responderAt: target(two), adapter: switchboardClient };
      },
      async () => {
        const port = await serve(owned, ['--cluster', redis, '--cluster-prefix', 'bench2:']);
        const at = target(port);
        return { system: 'switchboard-cluster-single', note: 'one node with --cluster, both clients on it', requesterAt: at, responderAt: at, adapter: switchboardClient };
      },
      async () => {
        const [one, two] = await Promise.all([socketioNode(owned, redis), socketioNode(owned, redis)]);
        return { system: 'socketio-cluster', note: 'two socket.io servers, @socket.io/redis-adapter', requesterAt: target(one), responderAt: target(two), adapter: socketioClient };
      },
      async () => {
        const [one, two] = await natsCluster(owned);
        return { system: 'nats-cluster', note: 'two nats-server with --routes', requesterAt: target(one), responderAt: target(two), adapter: natsClient };
      },
    ];
    for (const setup of setups) {
      let made: Setup | undefined;
      try {
        made = await setup();
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        options.log(`skipped: ${reason}`);
        rows.push({ system: reason.split(':')[0], note: '', skipped: reason });
        continue;
      }
      options.log(`${made.system}: measuring (${options.seconds} s per figure)`);
      rows.push(await measure(made, options.seconds));
    }
  } finally {
    await owned.stop();
  }
  return table(rows);
}

function target(port: number): Target {
  return { host: HOST, port, responders: ['echo'] };
}

async function measure(setup: Setup, seconds: number): Promise<Row> {
  const responder = await setup.adapter(setup.responderAt).responder('echo');
  const requester = await setup.adapter(setup.requesterAt).requester('caller');
  const message = makePayload(64, 'records');
  const row: Row = { system: setup.system, note: setup.note };
  try {
    // Warm up, and wait until the responder is reachable from the requester's node.
    const warm = performance.now() + 5000;
    for (;;) {
      try {
        await requester.request(['echo'], message, false);
        break;
      } catch (error) {
        if (performance.now() > warm) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await loop(() => requester.request(['echo'], message, false), 32, Math.min(1, seconds / 2));
    row.inFlight32 = (await loop(() => requester.request(['echo'], message, false), 32, seconds)).length / seconds;
    const serial = summarize(Float64Array.from(await loop(() => requester.request(['echo'], message, false), 1, seconds)));
    row.p50 = serial.p50;
    row.p99 = serial.p99;
    const refused = summarize(Float64Array.from(await loop(() => requester.request(['nobody'], message, false).then(fail, () => undefined), 1, seconds / 2, true)));
    row.noRespP50 = refused.p50;
    row.noRespP99 = refused.p99;
  } finally {
    await Promise.allSettled([requester.close(), responder.close()]);
  }
  return row;
}

function fail(): never {
  throw new Error('a request to a name nobody holds was answered');
}

/** Keep `inFlight` calls going for `seconds`; the latency of each one that finished, in ms. */
async function loop(call: () => Promise<unknown>, inFlight: number, seconds: number, refusals = false): Promise<number[]> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const start = performance.now();
      await call();
      latencies.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  if (refusals && latencies.length === 0) throw new Error('no refusal measured');
  return latencies;
}

function table(rows: Row[]): string {
  const ms = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(2)} ms`);
  const lines = [
    '| system | 64 B, 32 in flight | 1 in flight p50 | p99 | no_responders p50 | p99 | setup |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    if (row.skipped !== undefined) {
      lines.push(`| ${row.system} | skipped: ${row.skipped} | | | | | |`);
      continue;
    }
    const rate = row.inFlight32 === undefined ? '-' : `${Math.round(row.inFlight32).toLocaleString('en')} req/s`;
    lines.push(`| ${row.system} | ${rate} | ${ms(row.p50)} | ${ms(row.p99)} | ${ms(row.noRespP50)} | ${ms(row.noRespP99)} | ${row.note} |`);
  }
  return `${lines.join('\n')}\n`;
}

// Processes.

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolve with the first match of `pattern` in the child's output, or reject at the deadline or its exit. */
function waitFor(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${what}: not ready within ${START_MS} ms: ${output.slice(-500)}`)), START_MS);
    const read = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8192);
      const found = pattern.exec(output);
      if (found !== null) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${what}: ${error.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what}: exited (${code}): ${output.slice(-500)}`));
    });
  });
}

async function startRedis(owned: Owned): Promise<string> {
  const port = await freePort();
  const dir = owned.dir('sb-bench-redis-');
  const child = owned.child(
    spawn('redis-server', ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  await waitFor(child, /Ready to accept connections/, 'redis-server');
  return `redis://${HOST}:${port}`;
}

async function serve(owned: Owned, args: string[]): Promise<number> {
  const child = owned.child(spawn(process.execPath, [CLI, 'serve', '--host', HOST, '--port', '0', '--log-format', 'json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const found = await waitFor(child, /listening on ws:\/\/[^:]+:(\d+)\//, 'switchboard serve');
  return Number(found[1]);
}

async function socketioNode(owned: Owned, redis: string): Promise<number> {
  const child = owned.child(fork(SOCKETIO_NODE, [redis], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('socketio-cluster: not listening in time')), START_MS);
    child.on('message', (message: { type?: string; port?: number; message?: string }) => {
      if (message.type === 'listening') {
        clearTimeout(timer);
        resolve(message.port as number);
      } else if (message.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`socketio-cluster: ${message.message}`));
      }
    });
  });
}

async function natsCluster(owned: Owned): Promise<[number, number]> {
  const executable = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((path) => {
    try {
      return spawn(path, ['--version']).pid !== undefined;
    } catch {
      return false;
    }
  });
  if (executable === undefined) throw new Error('nats-cluster: nats-server is not installed');
  const [c1, c2, p1, p2] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const node = (port: number, cluster: number, other: number) =>
    owned.child(
      spawn(executable, ['-a', HOST, '-p', String(port), '--cluster', `nats://${HOST}:${cluster}`, '--routes', `nats://${HOST}:${other}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  const one = node(p1, c1, c2);
  const two = node(p2, c2, c1);
  await Promise.all([waitFor(one, /Route connection created|Listening for route connections/, 'nats-cluster'), waitFor(two, /Route connection created/, 'nats-cluster')]);
  return [p1, p2];
}
