/**
 * The link of a cluster node to Redis (protocol.md section 16): a connection for commands and one for
 * pub/sub, the node's channel and the shared one, and the records nodes send each other. Records sent
 * within one turn of the event loop leave in batches, consecutive records to one channel as one PUBLISH,
 * in the order they were sent; every command has a deadline. node.ts decides what records mean.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AnswerFrame, BrokerAction, Dialect, ProgressFrame } from '../../protocol/wire.js';

/** An answer or a part sent back to the node that keeps its request. */
export type UpFrame = Pick<AnswerFrame, 'action' | 'ack' | 'error' | 'trace'> | Pick<ProgressFrame, 'action' | 'ack' | 'trace'>;

/** The header of a record nodes send each other; its body (a frame's text, or a message) follows. */
export type Header =
  | { t: 'w'; o: string; c: string; a: BrokerAction; d?: string; n?: string }
  | { t: 'close'; o: string; c: string; code: number; reason: string }
  | { t: 'gone'; o: string; c: string; n?: string; p?: string }
  | { t: 'up'; o: string; c: string; l: Dialect; f: UpFrame }
  | { t: 'beat'; o: string; k: number }
  | { t: 'bye'; o: string }
  | { t: 'sub'; o: string; c: string; l: Dialect; n: string; topic: string; q: number; id: number }
  | { t: 'unsub'; o: string; c: string; topic: string; id: number }
  | { t: 'ok'; o: string; id: number; k?: number }
  | { t: 'join'; o: string; c: string; l: Dialect; n: string }
  | { t: 'name'; o: string; c: string; p: string; id: number }
  | { t: 'bc'; o: string; from: string; s: string; tr?: string; id: number }
  | { t: 'att'; o: string; c: string; l: Dialect; n: string; s: string; a: string; k: number; d: string }
  | { t: 'exp'; o: string; c: string; n: string; r: string }
  | { t: 'svc'; o: string; id: number }
  | { t: 'unsvc'; o: string; n: string }
  | { t: 'stats'; o: string; id: number; n: string[] };

/** Redis did not answer, or this node holds no lease: the action is refused with `unavailable`. */
export class ClusterUnavailable extends Error {}

const COMMAND_TIMEOUT_MS = 1000;
const RECONNECT_MAX_MS = 500;
/** The most characters of records sent to one channel in one PUBLISH. */
const BATCH_BYTES = 256 * 1024;

/** Consecutive records for one channel, waiting to leave at the end of this turn of the event loop. */
interface Batch {
  readonly channel: string;
  readonly records: string[];
  bytes: number;
}

type RedisClient = ReturnType<typeof import('redis').createClient>;

/**
 * The Redis client library, loaded by the first cluster node: a broker without `cluster` never loads it
 * (node-redis costs about 8 MiB of memory at start, measured).
 */
const redis = () => createRequire(import.meta.url)('redis') as typeof import('redis');

export class Link {
  readonly cmd: RedisClient;
  readonly sub: RedisClient;
  readonly #prefix: string;
  readonly #onRecord: (header: Header, body: string) => void;
  readonly #warn: (message: string) => void;
  readonly #shas = new Map<string, string>();
  readonly #outbox: Batch[] = [];
  #flushScheduled = false;

  constructor(options: { url: string; prefix: string }, onRecord: (header: Header, body: string) => void, warn: (message: string) => void) {
    this.#prefix = options.prefix;
    this.#onRecord = onRecord;
    const reconnectStrategy = (retries: number) => Math.min(20 * 2 ** retries, RECONNECT_MAX_MS);
    const { createClient } = redis();
    this.cmd = createClient({ url: options.url, disableOfflineQueue: true, socket: { reconnectStrategy, connectTimeout: COMMAND_TIMEOUT_MS } });
    this.sub = createClient({ url: options.url, socket: { reconnectStrategy, connectTimeout: COMMAND_TIMEOUT_MS } });
    for (const client of [this.cmd, this.sub]) client.on('error', (error: Error) => warn(`redis: ${error.message}`));
    this.#warn = warn;
  }

  /**
   * Connect both clients (they keep trying) and listen on the channels of `nodes` (`*`: the shared one).
   * Resolves once Redis has confirmed the subscription: from then on, nothing sent to them is missed
   * while the connection lasts.
   */
  connect(nodes: string[]): Promise<void> {
    this.cmd.connect().catch((error: Error) => this.#warn(`redis: ${error.message}`));
    this.sub.connect().catch((error: Error) => this.#warn(`redis: ${error.message}`));
    return this.sub.subscribe(nodes.map((node) => this.channel(node)), this.#receive).catch((error: Error) => this.#warn(`redis: ${error.message}`));
  }

  /** Listen on the channel of the node's new id instead of the old one's. */
  move(from: string, to: string): void {
    this.sub.unsubscribe(this.channel(from)).catch(() => {});
    this.sub.subscribe(this.channel(to), this.#receive).catch(() => {});
  }

  async close(): Promise<void> {
    try {
      await this.withTimeout(this.cmd.close());
    } catch {
      // Redis is away
    }
    for (const client of [this.cmd, this.sub]) if (client.isOpen) client.destroy();
  }

  key(kind: string, name: string): string {
    return `${this.#prefix}${kind}${name}`;
  }

  /** A node's channel, or the shared one (`*`). */
  channel(node: string): string {
    return `${this.#prefix}ch:${node}`;
  }

  /**
   * Send a record to a node (or `*`, all). Records sent within one turn of the event loop (a pass of the
   * executor writes many) leave together: consecutive records to one channel as one PUBLISH (up to
   * BATCH_BYTES), in the order they were sent, so that what a node says arrives in the order it said it.
   */
  publish(node: string, header: Header, body: string): void {
    const record = `${body.length}:${JSON.stringify(header)}\n${body}`;
    const channel = this.channel(node);
    const last = this.#outbox.at(-1);
    if (last !== undefined && last.channel === channel && last.bytes + record.length <= BATCH_BYTES) {
      last.records.push(record);
      last.bytes += record.length;
    } else {
      this.#outbox.push({ channel, records: [record], bytes: record.length });
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    for (const batch of this.#outbox.splice(0)) {
      this.cmd.publish(batch.channel, batch.records.length === 1 ? batch.records[0] : batch.records.join('')).catch(() => {
        // Lost with Redis: the other node goes quiet for us and what waits on it ends (#nodeGone).
      });
    }
  };

  async eval(script: string, keys: string[], args: string[]): Promise<unknown> {
    let sha = this.#shas.get(script);
    if (sha === undefined) this.#shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.withTimeout(this.cmd.sendCommand(['EVALSHA', sha, ...tail]));
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return await this.withTimeout(this.cmd.sendCommand(['EVAL', script, ...tail]));
    }
  }

  withTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new ClusterUnavailable(`redis did not answer within ${COMMAND_TIMEOUT_MS} ms`)), COMMAND_TIMEOUT_MS);
    });
    return Promise.race([work, expired]).finally(() => clearTimeout(timer));
  }

  /**
   * A message on this node's channels: a beat or a bye (bare JSON), or a batch of records, each
   * `<body length>:<header JSON>\n<body>` (a body is a frame's text and may hold newlines).
   */
  readonly #receive = (message: string): void => {
    try {
      if (message.startsWith('{')) return this.#onRecord(JSON.parse(message) as Header, '');
      let at = 0;
      while (at < message.length) {
        const colon = message.indexOf(':', at);
        const newline = message.indexOf('\n', colon);
        const length = Number(message.slice(at, colon));
        const header = JSON.parse(message.slice(colon + 1, newline)) as Header;
        at = newline + 1 + length;
        this.#onRecord(header, message.slice(newline + 1, at));
      }
    } catch (error) {
      this.#warn(`a record from another node was not understood: ${(error as Error).message}`);
    }
  };

}
