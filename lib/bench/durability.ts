/**
 * `switchboard bench --durability` (issue 15, item 4): what keeping a mailbox costs. A sender queues
 * 64 B messages for a durable name nobody holds, each `send` with a `ref`, and waits for its `sent`
 * report (which lists the name in `queued`): queued sends per second at 32 in flight over 8 connections,
 * and the time to `sent` at 1 in flight (p50, p99). Then a holder registers the name and takes everything queued:
 * messages per second delivered from the mailbox. One run, four stores: the embedded broker (memory),
 * the embedded broker with `--data-dir` (its journal on disk before `sent`, lib/broker/mailbox-file.ts),
 * a cluster node on a Redis without persistence, and a cluster node on a Redis with `appendonly yes`,
 * `appendfsync always` (each change on disk before Redis answers, which is what makes `queued` outlive
 * a crash of Redis). The stores are measured one after the other, round after round; each figure is its
 * median over the rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { makePayload } from './load/payload.js';
import { Owned, serve } from './cluster-systems.js';
import { parseRounds } from './options.js';
import { startRedisServer } from './redis.js';
import { median, summarize } from './stats.js';

const IN_FLIGHT = 32;
/** The connections the sends in flight are spread over. */
const SENDERS = 8;
const PAYLOAD_BYTES = 64;
const INBOX = 'bench-inbox';
/** Limits wide enough that a fast store never fills the mailbox in a round. */
const LIMITS = ['maxMailboxSize=10000000', 'maxMailboxBytes=2147483648', 'maxMailboxBytesTotal=4294967296', 'maxPendingPerConnection=100000'];
/** How long the holder may take to receive everything queued. */
const DRAIN_MS = 120_000;

interface Store {
  readonly store: string;
  readonly note: string;
  /** Redis persistence: undefined for none needed, else whether AOF with `appendfsync always`. */
  readonly redis?: 'none' | 'always';
  /** The embedded broker with `--data-dir`. */
  readonly file?: true;
}

const STORES: readonly Store[] = [
  { store: 'memory', note: 'embedded broker; lost when it stops' },
  { store: 'file', note: 'embedded broker, --data-dir (a journal, fdatasync before sent)', file: true },
  { store: 'redis', note: 'cluster node, Redis without persistence', redis: 'none' },
  { store: 'redis-fsync', note: 'cluster node, Redis appendfsync always', redis: 'always' },
];

export const DURABILITY_STORES: readonly string[] = STORES.map((store) => store.store);

export interface DurabilityFigures {
  /** Queued sends per second, 32 in flight. */
  readonly rate32: number;
  /** Milliseconds from `send` to `sent`, 1 in flight. */
  readonly p50: number;
  readonly p99: number;
  /** Messages per second delivered from the mailbox to a holder that registers. */
  readonly drain: number;
}

export interface DurabilityRow {
  readonly store: string;
  readonly note: string;
  readonly figures?: DurabilityFigures;
  readonly skipped?: string;
}

/** One connection speaking the extended dialect, with its frames handed to `on`. */
async function connect(port: number, on: (frame: Record<string, unknown>) => void): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, ['switchboard.v1']);
  ws.on('message', (data) => on(JSON.parse(String(data)) as Record<string, unknown>));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

/** Register `name` on a new connection (durable when asked); resolves with the connection once `registered`. */
async function named(port: number, name: string, durable: boolean, on: (frame: Record<string, unknown>) => void = () => {}): Promise<WebSocket> {
  let registered = () => {};
  const done = new Promise<void>((resolve) => (registered = resolve));
  const ws = await connect(port, (frame) => {
    if (frame.action === 'registered' && frame.id === name) registered();
    on(frame);
  });
  ws.send(JSON.stringify({ action: 'register', id: name, durable }));
  await done;
  return ws;
}

async function closed(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  await new Promise<void>((resolve) => {
    ws.once('close', () => resolve());
    ws.close();
  });
}

/** Measure one store on the broker at `port`: queue, time, then drain. */
async function measure(port: number, seconds: number): Promise<DurabilityFigures> {
  // The name goes offline with a mailbox: its holder disconnects.
  await closed(await named(port, INBOX, true));
  await new Promise((resolve) => setTimeout(resolve, 200));
  // Several senders, as a broker serves: one connection's frames are handled in order, one at a time.
  const senders: Array<{ ws: WebSocket; waiting: Map<string, (queued: boolean) => void> }> = [];
  for (let i = 0; i < SENDERS; i++) {
    const waiting = new Map<string, (queued: boolean) => void>();
    const ws = await named(port, `bench-sender-${i}`, false, (frame) => {
      const ref = typeof frame.ref === 'string' ? frame.ref : undefined;
      const done = ref === undefined ? undefined : waiting.get(ref);
      if (done === undefined || ref === undefined) return;
      waiting.delete(ref);
      done(frame.action === 'sent' && Array.isArray(frame.queued) && frame.queued.includes(INBOX));
    });
    senders.push({ ws, waiting });
  }
  const body = JSON.stringify(makePayload(PAYLOAD_BYTES));
  let next = 0;
  let queued = 0;
  const send = (lane: number) =>
    new Promise<void>((resolve, reject) => {
      const { ws, waiting } = senders[lane % SENDERS];
      const ref = String(++next);
      waiting.set(ref, (ok) => {
        if (!ok) return reject(new Error('a send was not queued'));
        queued++;
        resolve();
      });
      ws.send(`{"action":"send","dest":"${INBOX}","ref":"${ref}","message":${body}}`);
    });
  const loop = async (inFlight: number, ms: number, times?: number[]) => {
    const until = performance.now() + ms;
    const worker = async (lane: number) => {
      while (performance.now() < until) {
        const at = performance.now();
        await send(lane);
        times?.push(performance.now() - at);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, (_, lane) => worker(lane)));
  };
  await loop(IN_FLIGHT, 200); // warm-up
  const before = queued;
  const start = performance.now();
  await loop(IN_FLIGHT, seconds * 1000);
  const rate32 = ((queued - before) * 1000) / (performance.now() - start);
  const times: number[] = [];
  await loop(1, (seconds * 1000) / 2, times);
  const latency = summarize(Float64Array.from(times));
  await Promise.all(senders.map(({ ws }) => closed(ws)));

  // Everything queued goes to the next holder.
  let received = 0;
  let all = () => {};
  const drained = new Promise<void>((resolve) => (all = resolve));
  const drainStart = performance.now();
  const timer = setTimeout(() => all(), DRAIN_MS);
  const holder = await named(port, INBOX, true, (frame) => {
    if (frame.action === 'message' && ++received === queued) all();
  });
  await drained;
  clearTimeout(timer);
  const drainMs = performance.now() - drainStart;
  await closed(holder);
  if (received < queued) throw new Error(`the holder received ${received} of ${queued} queued messages within ${DRAIN_MS} ms`);
  return { rate32, p50: latency.p50, p99: latency.p99, drain: (received * 1000) / drainMs };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The report's table, in Markdown. */
export function durabilityTable(rows: readonly DurabilityRow[]): string {
  const lines = [
    '| store | queued sends/s, 32 in flight (8 senders) | `send` to `sent` p50, 1 in flight | p99 | delivered from the mailbox | what it is |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    const f = row.figures;
    if (f === undefined) lines.push(`| ${row.store} | ${(row.skipped ?? '').replaceAll('|', '/')} | | | | ${row.note} |`);
    else lines.push(`| ${row.store} | ${fmt(f.rate32)} /s | ${fmt(f.p50, 2)} ms | ${fmt(f.p99, 2)} ms | ${fmt(f.drain)} msg/s | ${row.note} |`);
  }
  return `${lines.join('\n')}\n`;
}

export function medianFigures(rounds: readonly DurabilityFigures[]): DurabilityFigures {
  const pick = (key: keyof DurabilityFigures) => median(rounds.map((round) => round[key]));
  return { rate32: pick('rate32'), p50: pick('p50'), p99: pick('p99'), drain: pick('drain') };
}

export async function durabilityBench(seconds: number, rounds: number, log: (line: string) => void): Promise<{ rows: DurabilityRow[]; failures: string[] }> {
  const owned = new Owned();
  const killNow = () => owned.killNow();
  process.once('exit', killNow);
  const failures: string[] = [];
  const ports = new Map<string, number>();
  const skipped = new Map<string, string>();
  const results = new Map<string, DurabilityFigures[]>();
  try {
    const redis = new Map<'none' | 'always', string>();
    for (const persistence of ['none', 'always'] as const) {
      try {
        const server = await startRedisServer({ appendonly: persistence === 'always' });
        owned.other(
          () => server.close(),
          () => {
            if (server.pid !== undefined) process.kill(server.pid, 'SIGKILL');
            rmSync(server.dir, { recursive: true, force: true });
          },
        );
        redis.set(persistence, server.url);
      } catch (error) {
        log(`redis-server (${persistence}): ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    for (const store of STORES) {
      const limits = LIMITS.flatMap((limit) => ['--limit', limit]);
      const url = store.redis === undefined ? undefined : redis.get(store.redis);
      if (store.redis !== undefined && url === undefined) {
        skipped.set(store.store, 'skipped: no redis-server');
        continue;
      }
      try {
        const cluster = url === undefined ? [] : ['--cluster', url, '--cluster-prefix', `bench-${store.store}:`];
        const data: string[] = [];
        if (store.file === true) {
          const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
          owned.other(async () => rmSync(dir, { recursive: true, force: true }), () => rmSync(dir, { recursive: true, force: true }));
          data.push('--data-dir', dir);
        }
        ports.set(store.store, await serve(owned, [...limits, ...cluster, ...data]));
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        skipped.set(store.store, `failed to start: ${reason}`);
        failures.push(`${store.store} did not start: ${reason}`);
      }
    }
    for (let round = 1; round <= rounds; round++) {
      for (const store of STORES) {
        const port = ports.get(store.store);
        if (port === undefined || skipped.has(store.store)) continue;
        log(`${store.store}: round ${round} of ${rounds} (${seconds} s)`);
        try {
          const figures = await measure(port, seconds);
          results.set(store.store, [...(results.get(store.store) ?? []), figures]);
          log(`  ${Math.round(figures.rate32)} queued/s; sent p50 ${figures.p50.toFixed(2)} ms, p99 ${figures.p99.toFixed(2)} ms; drained at ${Math.round(figures.drain)} msg/s`);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          skipped.set(store.store, `failed: ${reason}`);
          failures.push(`${store.store} failed: ${reason}`);
        }
      }
    }
  } finally {
    await owned.stop();
    process.off('exit', killNow);
  }
  const rows = STORES.map(({ store, note }): DurabilityRow => {
    const measured = results.get(store);
    if (skipped.has(store) || measured === undefined) return { store, note, skipped: skipped.get(store) ?? 'not measured' };
    return { store, note, figures: medianFigures(measured) };
  });
  return { rows, failures };
}

export const DURABILITY_USAGE = `Usage: switchboard bench --durability [--quick] [--seconds S] [--rounds N]

What a mailbox costs: queued sends per second to an offline durable name, the time to \`sent\`, and the
rate a returning holder receives them, in memory, on disk (--data-dir), in Redis, and in Redis with
appendfsync always
(lib/bench/README.md). Starts its own redis-server processes.
  --quick       1 s per figure, 1 round (CI)
  --seconds S   seconds per figure and round (default 5)
  --rounds N    rounds; each figure is the median over them (default 3)
Exit code 1 when a store failed while measured; 2 for bad options.
`;

/** `switchboard bench --durability` as a command: the report to `out`, progress to `err`. */
export async function durabilityCommand(argv: readonly string[], out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const { seconds, rounds, help, problems } = parseRounds(argv.filter((arg) => arg !== '--durability'));
  if (help) {
    out(DURABILITY_USAGE);
    return 0;
  }
  if (problems.length > 0) {
    err(`switchboard bench --durability: ${problems.join('; ')}\n\n${DURABILITY_USAGE}`);
    return 2;
  }
  const { rows, failures } = await durabilityBench(seconds, rounds, (line) => err(`${line}\n`));
  const failed = failures.map((failure) => `- ${failure}\n`).join('');
  out(`${PAYLOAD_BYTES} B; median of ${rounds} round${rounds === 1 ? '' : 's'} of ${seconds} s per figure\n\n${durabilityTable(rows)}${failed === '' ? '' : `\nFailures:\n${failed}`}`);
  return failures.length > 0 ? 1 : 0;
}
