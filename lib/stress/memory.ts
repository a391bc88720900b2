/**
 * The memory phases of the stress run (issue 12, items 6 and 11): what a flood costs the broker
 * process. Each run starts a broker of its own (default limits, --expose-gc), so that no earlier
 * phase's heap growth hides this one's, and a flood process (flood.ts) that runs one flood to the end.
 *
 * The baseline is read after two forced full GCs: the broker's live memory before the flood. Each
 * flood then runs twice, because garbage makes one figure answer two questions badly:
 *
 * - `held`: while the flood runs, the broker is asked every SAMPLE_MS for its memory after two forced
 *   full GCs; the highest live memory (V8 heap used + external, which holds every Buffer queued on a
 *   socket) over the baseline is what the broker *holds* at the worst moment. That is what the
 *   documented limits bound (4 x maxBufferedBytes for a slow reader, maxPendingPerConnection requests,
 *   maxMailboxBytes per mailbox), it does not depend on when V8 chooses to collect, and the verdict is
 *   on it. The RSS peak of this run is shown beside it (garbage of at most one sampling interval).
 * - `raw`: the same flood with no forced GC: the highest VmRSS (/proc/<pid>/status; VmHWM after a
 *   reset through clear_refs, else 10 ms samples) is what a deployment's process would reach, garbage
 *   not yet collected included. Shown, not judged: how much garbage V8 lets pile up is set by its heap
 *   sizing (a smaller young generation or old-space cap shrinks it), not by the broker's limits.
 *
 * After each run: RSS and live memory again after forced GCs, what the broker keeps (a queue, a leak).
 * RSS after a GC may stay high where freed pages are not given back to the kernel; live memory does not.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Child, type Reply } from './child.js';

export const MiB = 1024 * 1024;

export interface Reading {
  rss: number;
  hwm: number;
}

/** VmRSS and VmHWM of process `pid`, in bytes; NaN where /proc cannot be read. */
export function procMemory(pid: number): Reading {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rss: field('VmRSS'), hwm: field('VmHWM') };
  } catch {
    return { rss: Number.NaN, hwm: Number.NaN };
  }
}

/** Reset the peak (VmHWM) of `pid` to its current RSS; false where the kernel does not allow it. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const { rss, hwm } = procMemory(pid);
    return hwm <= rss + MiB; // some kernels accept the write and keep the old peak
  } catch {
    return false;
  }
}

/**
 * The pause between two live-memory samples of the `held` run. Each sample costs two full GCs (after
 * one, the backing stores of dead Buffers may not be freed yet, and count as live), so sampling more
 * often slows the flood severalfold. What a flood makes the broker hold lasts longer than this: a slow
 * reader's data until it is cut, a second after its close; pending requests and queued messages until
 * the end.
 */
const SAMPLE_MS = 100;

export interface FloodRun {
  /** VmRSS after forced GCs, before the flood. */
  before: number;
  /** The highest VmRSS while the flood ran and settled. */
  peak: number;
  peakFrom: 'VmHWM' | 'samples';
  /** The highest live memory (heap used + external, after forced GCs) over the baseline, or NaN. */
  livePeak: number;
  /** At that moment: what each named connection had waiting in its socket's buffer, [name, bytes]. */
  bufferedAtPeak: ReadonlyArray<readonly [string, number]>;
  /** VmRSS after forced GCs once the flood settled. */
  after: number;
  /** Live memory over the baseline's once the flood settled (after forced GCs). */
  liveKept: number;
  /** What the flood process reported. */
  flood: Reply;
  /** Once the flood settled: the broker's stats, and the close codes (and reasons) of what it let go. */
  stats: Record<string, number>;
  closes: Record<string, number>;
}

type Spawn = (role: string, args?: string[], execArgv?: string[]) => Child;

const liveOf = (m: Reply) => (m.heapUsed as number) + (m.external as number);

/**
 * Run flood `mode` against a fresh broker, sampling its live memory or not (see above); `settled(stats)`
 * says when the broker is done with it (the slow reader let go, the refusals written), waited for with
 * a deadline.
 */
export async function floodRun(
  spawn: Spawn,
  mode: string,
  settled: (stats: Record<string, number>) => boolean,
  options: { sampleLive: boolean; timeoutMs: number },
): Promise<FloodRun> {
  const broker = spawn('broker', [], ['--expose-gc']);
  let flood: Child | undefined;
  let sampler: NodeJS.Timeout | undefined;
  let sampling = false;
  try {
    const { port } = await broker.next('ready', 10_000);
    const pid = broker.pid;
    if (pid === undefined) throw new Error('the broker has no pid');
    flood = spawn('flood', [`ws://127.0.0.1:${String(port)}/`, mode]);
    await flood.next('ready', 10_000);
    const baseline = await broker.ask({ type: 'memory' }, 'memory', 10_000);
    const before = procMemory(pid).rss;
    const reset = resetPeak(pid);
    let sampled = before;
    sampler = setInterval(() => (sampled = Math.max(sampled, procMemory(pid).rss || 0)), 10);
    let livePeak = options.sampleLive ? 0 : Number.NaN;
    let bufferedAtPeak: ReadonlyArray<readonly [string, number]> = [];
    sampling = options.sampleLive;
    const liveSamples = (async () => {
      while (sampling) {
        const m = await broker.ask({ type: 'memory' }, 'memory', 10_000);
        const live = liveOf(m) - liveOf(baseline);
        if (live > livePeak) {
          livePeak = live;
          bufferedAtPeak = m.buffered as Array<[string, number]>;
        }
        await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
      }
    })().catch((error: unknown) => error);

    const done = await flood.ask({ type: 'start' }, 'done', options.timeoutMs);
    const deadline = Date.now() + 10_000;
    let reply = await broker.ask({ type: 'stats' }, 'stats', 5000);
    while (!settled(reply.stats as Record<string, number>) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      reply = await broker.ask({ type: 'stats' }, 'stats', 5000);
    }
    sampling = false;
    const failed = await liveSamples;
    if (failed !== undefined) throw failed;
    clearInterval(sampler);
    const { rss, hwm } = procMemory(pid);
    sampled = Math.max(sampled, rss);
    const kept = await broker.ask({ type: 'memory' }, 'memory', 10_000);
    return {
      before,
      peak: reset ? Math.max(hwm, sampled) : sampled,
      peakFrom: reset ? 'VmHWM' : 'samples',
      livePeak,
      bufferedAtPeak,
      after: kept.rss as number,
      liveKept: liveOf(kept) - liveOf(baseline),
      flood: done,
      stats: reply.stats as Record<string, number>,
      closes: reply.closes as Record<string, number>,
    };
  } finally {
    sampling = false;
    clearInterval(sampler);
    await flood?.stop(2000);
    await broker.stop(10_000);
  }
}
