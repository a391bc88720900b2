/**
 * `switchboard bench --cluster` (issue 14, item 6): request/answer between two broker nodes, the
 * requester on one and the responder on the other, in one run beside the systems users would otherwise
 * pick: switchboard's cluster on Redis, socket.io with `@socket.io/redis-adapter` (a cross-server
 * `emitWithAck`), and a two-server NATS cluster (`nats-server --routes`, when installed). Also switchboard
 * with `--cluster` with both clients on one node, and the embedded broker, for the cost of cluster mode.
 *
 * For each system: 64 B requests at 32 in flight (requests per second), at 1 in flight (latency p50,
 * p99), and requests to a name nobody holds (the time to `no_responders`, p50, p99); also the CPU time
 * its server processes (and its Redis) spend per request at 32 in flight, read from /proc. One load generator
 * (this process) drives every system through the same adapters as `npm run bench` (lib/bench/load).
 * Every system is started first, each in processes of its own on one redis-server (lib/bench/redis.ts);
 * then the systems are measured one after the other, round after round, so that a slow spell of the
 * machine falls on all of them; the report gives each figure's median over the rounds. A system that
 * cannot start is reported as skipped, with the reason; everything is stopped at the end.
 */
import { rmSync } from 'node:fs';
import type { Adapter, Target } from './load/adapter.js';
import { natsClient } from './load/nats.js';
import { makePayload } from './load/payload.js';
import { socketioClient } from './load/socketio.js';
import { switchboardClient } from './load/switchboard.js';
import { medianOf, table, targetLines, targets, type Figures, type Row } from './cluster-report.js';
import { natsCluster, Owned, serve, socketioNode } from './cluster-systems.js';
import { usage } from './proc.js';
import { parseRounds } from './options.js';
import { startRedisServer } from './redis.js';
import { summarize } from './stats.js';

const HOST = '127.0.0.1';
/** How long a system may take, after its start, before a request from one node reaches the other. */
const REACHABLE_MS = 5000;
const PAYLOAD_BYTES = 64;
const IN_FLIGHT = 32;

export interface ClusterBenchOptions {
  /** Seconds measured per figure and round (the refusals take half of it). */
  readonly seconds: number;
  /** How many times each system is measured; the report gives medians. Default: 1 with `seconds` <= 1, else 3. */
  readonly rounds?: number;
  readonly log: (line: string) => void;
}

export interface ClusterBenchResult {
  readonly rows: readonly Row[];
  /** The table and the targets, in Markdown. */
  readonly report: string;
  /** Systems that failed while measured, or switchboard systems that could not start. */
  readonly failures: readonly string[];
}

interface System {
  readonly system: string;
  readonly note: string;
  readonly needsRedis: boolean;
  /** Starts the system; resolves with where the requester and the responder connect. */
  readonly start: (owned: Owned, redis: string) => Promise<{ requesterAt: number; responderAt: number }>;
  readonly adapter: (target: Target) => Adapter;
}

const SYSTEMS: readonly System[] = [
  {
    system: 'switchboard',
    needsRedis: false,
    note: 'embedded, one process',
    start: async (owned) => same(await serve(owned, [])),
    adapter: switchboardClient,
  },
  {
    system: 'switchboard-cluster',
    needsRedis: true,
    note: 'two nodes, requester and responder on different nodes',
    start: async (owned, redis) => {
      const args = ['--cluster', redis, '--cluster-prefix', 'bench-two:'];
      const [one, two] = await Promise.all([serve(owned, args), serve(owned, args)]);
      return { requesterAt: one, responderAt: two };
    },
    adapter: switchboardClient,
  },
  {
    system: 'switchboard-cluster-single',
    needsRedis: true,
    note: 'one node with --cluster, both clients on it',
    start: async (owned, redis) => same(await serve(owned, ['--cluster', redis, '--cluster-prefix', 'bench-one:'])),
    adapter: switchboardClient,
  },
  {
    system: 'socketio-cluster',
    needsRedis: true,
    note: 'two socket.io servers, @socket.io/redis-adapter',
    start: async (owned, redis) => {
      const [one, two] = await Promise.all([socketioNode(owned, redis), socketioNode(owned, redis)]);
      return { requesterAt: one, responderAt: two };
    },
    adapter: socketioClient,
  },
  {
    system: 'nats-cluster',
    needsRedis: false,
    note: 'two nats-server with --routes',
    start: async (owned) => {
      const [one, two] = await natsCluster(owned);
      return { requesterAt: one, responderAt: two };
    },
    adapter: natsClient,
  },
];

export const CLUSTER_SYSTEMS: readonly string[] = SYSTEMS.map((system) => system.system);

function same(port: number) {
  return { requesterAt: port, responderAt: port };
}

export async function clusterBench(options: ClusterBenchOptions): Promise<ClusterBenchResult> {
  const rounds = options.rounds ?? (options.seconds <= 1 ? 1 : 3);
  const owned = new Owned();
  const failures: string[] = [];
  const started: Array<{ system: System; requesterAt: Target; responderAt: Target; pids: Pids; rounds: Figures[]; failed?: string }> = [];
  const skipped = new Map<string, string>();
  // Nothing this run started may outlive it: not on an interrupt, nor on an exit from elsewhere.
  const killNow = () => owned.killNow();
  const onSignal = () => {
    killNow();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', killNow);
  try {
    let redis: string | Error;
    let redisPid: number | undefined;
    try {
      const server = await startRedisServer();
      owned.other(
        () => server.close(),
        () => {
          if (server.pid !== undefined) process.kill(server.pid, 'SIGKILL');
          rmSync(server.dir, { recursive: true, force: true });
        },
      );
      redis = server.url;
      redisPid = server.pid;
      options.log(`redis-server on ${redis}`);
    } catch (error) {
      redis = error instanceof Error ? error : new Error(String(error));
      options.log(`redis-server: ${redis.message}`);
    }
    for (const system of SYSTEMS) {
      try {
        if (system.needsRedis && redis instanceof Error) throw new Error(`no Redis: ${redis.message}`);
        const count = owned.count;
        const at = await system.start(owned, redis as string);
        const pids = { servers: owned.pidsSince(count), redis: system.needsRedis ? redisPid : undefined };
        started.push({ system, requesterAt: target(at.requesterAt), responderAt: target(at.responderAt), pids, rounds: [] });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        options.log(`${system.system}: skipped: ${reason}`);
        skipped.set(system.system, reason);
        // Our own node not starting is a failure; a machine without redis-server is not.
        if (system.system.startsWith('switchboard') && !(system.needsRedis && redis instanceof Error)) failures.push(`${system.system} did not start: ${reason}`);
      }
    }
    for (let round = 1; round <= rounds; round++) {
      for (const entry of started) {
        if (entry.failed !== undefined) continue;
        options.log(`${entry.system.system}: round ${round} of ${rounds} (${options.seconds} s per figure)`);
        try {
          const figures = await measure(entry.system.adapter, entry.requesterAt, entry.responderAt, entry.pids, options.seconds);
          entry.rounds.push(figures);
          options.log(`  ${Math.round(figures.rate32)} req/s; p50 ${figures.p50.toFixed(2)} ms, p99 ${figures.p99.toFixed(2)} ms; ${Math.round(figures.cpuUs)} µs CPU/request (Redis ${Math.round(figures.redisUs)}); no_responders p50 ${figures.noRespP50.toFixed(2)} ms`);
        } catch (error) {
          entry.failed = error instanceof Error ? error.message : String(error);
          options.log(`${entry.system.system}: failed: ${entry.failed}`);
          failures.push(`${entry.system.system} failed: ${entry.failed}`);
        }
      }
    }
  } finally {
    await owned.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killNow);
  }
  const rows: Row[] = SYSTEMS.map(({ system, note }) => {
    const entry = started.find((candidate) => candidate.system.system === system);
    if (entry === undefined) return { system, note, rounds: 0, skipped: `skipped: ${skipped.get(system)}` };
    if (entry.failed !== undefined) return { system, note, rounds: entry.rounds.length, skipped: `failed: ${entry.failed}` };
    return { system, note, rounds: entry.rounds.length, figures: medianOf(entry.rounds) };
  });
  const how = `${PAYLOAD_BYTES} B; median of ${rounds} round${rounds === 1 ? '' : 's'} of ${options.seconds} s per figure\n\n`;
  const failed = failures.map((failure) => `- ${failure}\n`).join('');
  const report = `${how}${table(rows)}\nTargets (issue 14):\n${targetLines(targets(rows))}${failed === '' ? '' : `\nFailures:\n${failed}`}`;
  return { rows, failures, report };
}

/** The processes whose CPU time a system spends: its servers, and the Redis it uses. */
interface Pids {
  readonly servers: readonly number[];
  readonly redis: number | undefined;
}

/** CPU time so far of `pids`, in ms (0 for a process gone). */
function cpuMs(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += usage(pid).cpuMs;
    } catch {
      // A process that has exited has no /proc entry; its rows fail on their own.
    }
  }
  return total;
}

function target(port: number): Target {
  return { host: HOST, port, responders: ['echo'] };
}

/** One round of one system: fresh clients, the three figures, the clients closed. */
async function measure(adapter: (target: Target) => Adapter, requesterAt: Target, responderAt: Target, pids: Pids, seconds: number): Promise<Figures> {
  const responder = await adapter(responderAt).responder('echo');
  const requester = await adapter(requesterAt).requester('caller');
  const message = makePayload(PAYLOAD_BYTES, 'records');
  const echo = () => requester.request(['echo'], message, false);
  try {
    await reachable(echo);
    await loop(echo, IN_FLIGHT, Math.min(1, seconds / 2));
    const redis = pids.redis === undefined ? [] : [pids.redis];
    const [serversBefore, redisBefore] = [cpuMs(pids.servers), cpuMs(redis)];
    const done = (await loop(echo, IN_FLIGHT, seconds)).length;
    const [serversMs, redisMs] = [cpuMs(pids.servers) - serversBefore, cpuMs(redis) - redisBefore];
    const rate32 = done / seconds;
    const serial = summarize(Float64Array.from(await loop(echo, 1, seconds)));
    const refusal = () => requester.request(['nobody'], message, false).then(answered, () => undefined);
    const refused = summarize(Float64Array.from(await loop(refusal, 1, seconds / 2)));
    const perRequest = (ms: number) => (ms * 1000) / done;
    return {
      rate32,
      p50: serial.p50,
      p99: serial.p99,
      noRespP50: refused.p50,
      noRespP99: refused.p99,
      cpuUs: perRequest(serversMs + redisMs),
      redisUs: perRequest(redisMs),
    };
  } finally {
    await Promise.allSettled([requester.close(), responder.close()]);
  }
}

/** Resolves once a request reaches the responder (on another node, it may take a moment to be known there). */
async function reachable(echo: () => Promise<unknown>): Promise<void> {
  const deadline = performance.now() + REACHABLE_MS;
  for (;;) {
    try {
      await echo();
      return;
    } catch (error) {
      if (performance.now() > deadline) throw new Error(`the responder was not reachable within ${REACHABLE_MS} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function answered(): never {
  throw new Error('a request to a name nobody holds was answered');
}

/** Keep `inFlight` calls going for `seconds`; the latency of each one that finished, in ms. */
async function loop(call: () => Promise<unknown>, inFlight: number, seconds: number): Promise<number[]> {
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
  if (latencies.length === 0) throw new Error('no request finished');
  return latencies;
}

export const CLUSTER_USAGE = `Usage: switchboard bench --cluster [--quick] [--seconds S] [--rounds N]

Request/answer across two nodes: switchboard's cluster on Redis, socket.io with its Redis adapter and a
two-server NATS cluster (lib/bench/README.md). Starts its own redis-server (and nats-server, when installed).
  --quick       1 s per figure, 1 round (CI)
  --seconds S   seconds per figure and round (default 5)
  --rounds N    rounds; each figure is the median over them (default 3)
Exit code 1 when a system failed while measured or a switchboard node did not start (with Redis
there); 2 for bad options.
`;

/**
 * `switchboard bench --cluster` as a command: the report to `out`, progress to `err`; resolves with the exit code.
 */
export async function clusterCommand(argv: readonly string[], out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const { seconds, rounds, help, problems } = parseRounds(argv.filter((arg) => arg !== '--cluster'));
  if (help) {
    out(CLUSTER_USAGE);
    return 0;
  }
  if (problems.length > 0) {
    err(`switchboard bench --cluster: ${problems.join('; ')}\n\n${CLUSTER_USAGE}`);
    return 2;
  }
  const result = await clusterBench({ seconds, rounds, log: (line) => err(`${line}\n`) });
  out(result.report);
  return result.failures.length > 0 ? 1 : 0;
}
