/**
 * `/v1/stream` (lib/monitor/README.md, "The stream"): server-sent events for the dashboard. One ticker
 * takes a snapshot a second (snapshot.ts) and encodes it once for every open stream; it runs only while a
 * stream is open, and a minute longer so that a reloaded page finds its charts' history. Bounded: at most
 * MAX_STREAMS streams at once (the next is refused with 503), the last HISTORY_POINTS points kept, and a
 * stream whose unsent bytes pass MAX_BUFFERED_BYTES is dropped: a reader that does not keep up is cut,
 * never queued for.
 */
import type { ServerResponse } from 'node:http';

export interface StreamOptions {
  /** Between two snapshots. Default 1000 ms. */
  intervalMs?: number;
  /** Streams open at once. Default 16. */
  maxStreams?: number;
  /** Unsent bytes a stream may hold before it is dropped. Default 256 KiB. */
  maxBufferedBytes?: number;
  /** Points of history sent to a new stream. Default 300 (five minutes at one a second). */
  historyPoints?: number;
  /** How long the ticker goes on after the last stream closed. Default 60,000 ms. */
  lingerMs?: number;
}

/** What a tick makes: the snapshot (sent as it is) and its chart point (kept for the history), if any. */
export interface Tick {
  snapshot: unknown;
  point: unknown;
}

const DEFAULTS: Required<StreamOptions> = { intervalMs: 1000, maxStreams: 16, maxBufferedBytes: 256 * 1024, historyPoints: 300, lingerMs: 60_000 };

const HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no', // a proxy in front must not hold the events back
};

function event(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class SnapshotStreams {
  readonly #take: () => Tick;
  /** Called when the ticker stops, so that the next start begins its differences anew. */
  readonly #stopped: () => void;
  readonly #options: Required<StreamOptions>;
  readonly #streams = new Set<ServerResponse>();
  readonly #history: unknown[] = [];
  #latest: string | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #linger: NodeJS.Timeout | undefined;
  #closed = false;
  /** Streams dropped because they did not keep up, since the start. */
  dropped = 0;

  constructor(take: () => Tick, stopped: () => void, options: StreamOptions = {}) {
    this.#take = take;
    this.#stopped = stopped;
    this.#options = { ...DEFAULTS, ...options };
  }

  get size(): number {
    return this.#streams.size;
  }

  /** Streams served at once. */
  get max(): number {
    return this.#options.maxStreams;
  }

  /** Serve `res` as a stream: false (nothing written) when MAX_STREAMS are open or the monitor closes. */
  open(res: ServerResponse): boolean {
    if (this.#closed || this.#streams.size >= this.#options.maxStreams) return false;
    clearTimeout(this.#linger);
    this.#linger = undefined;
    this.#streams.add(res);
    res.once('close', () => this.#left(res));
    res.writeHead(200, HEADERS);
    res.write(`retry: 2000\n\n${event('history', { points: this.#history })}${this.#latest ?? ''}`);
    if (this.#ticker === undefined) {
      this.#ticker = setInterval(() => this.#tick(), this.#options.intervalMs);
      this.#ticker.unref(); // the monitor's listener keeps the process up, not its ticker
      this.#tick(); // the first snapshot now, not in a second
    }
    return true;
  }

  /** End every stream and stop the ticker (the monitor stops). */
  close(): void {
    this.#closed = true;
    for (const res of this.#streams) res.end();
    this.#streams.clear();
    this.#stop();
  }

  #tick(): void {
    const { snapshot, point } = this.#take();
    if (point !== null && point !== undefined) {
      this.#history.push(point);
      if (this.#history.length > this.#options.historyPoints) this.#history.shift();
    }
    const text = event('snapshot', snapshot);
    this.#latest = text;
    for (const res of this.#streams) {
      if (res.writableLength > this.#options.maxBufferedBytes) {
        this.dropped++;
        res.destroy(); // its 'close' removes it
        continue;
      }
      res.write(text);
    }
  }

  #left(res: ServerResponse): void {
    if (!this.#streams.delete(res) || this.#streams.size > 0 || this.#closed) return;
    this.#linger = setTimeout(() => this.#stop(), this.#options.lingerMs);
    this.#linger.unref();
  }

  #stop(): void {
    clearInterval(this.#ticker);
    clearTimeout(this.#linger);
    this.#ticker = undefined;
    this.#linger = undefined;
    this.#latest = undefined;
    this.#history.length = 0;
    this.#stopped();
  }
}
