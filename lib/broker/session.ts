/**
 * One client connection and the only place frames are written (protocol.md sections 2 and 8).
 *
 * A session knows its dialect, the names it holds (in the order it took them: the first is its primary
 * name), its inbox (executor.ts) and its bad-frame budget. It enforces the legacy rule [SB-2-3] at the
 * one way out, so no handler can send a legacy client a frame it does not know, and the slow-consumer
 * rule [SB-8-1] where unsent data is counted.
 */
import type { Identity } from './auth/policy.js';
import { Inbox, type Batch } from './executor.js';
import {
  CLOSE_CODES,
  ERROR_CODES,
  LEGACY_BROKER_ACTIONS,
  encode,
  type BrokerAction,
  type BrokerFrame,
  type DecodeFailure,
  type Dialect,
  type ErrorCode,
  type ErrorFrame,
  type Limits,
} from '../protocol/wire.js';

/** What a session needs of its socket: a ws WebSocket, or the broker side of an in-process pair (peer.ts). */
export interface SessionSocket {
  pause?(): void;
  resume?(): void;
  readonly readyState: number;
  readonly OPEN: number;
  readonly bufferedAmount: number;
  send(data: string | Buffer): void;
  send(data: Buffer, options: { binary: boolean }): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  /** A ping frame; `done` is called once it has left for the socket (ws), with an error if it could not. */
  ping(data?: undefined, mask?: undefined, done?: (error?: Error) => void): void;
  once(event: 'close', listener: (code: number) => void): unknown;
}

const AS_TEXT = { binary: false };

/** The remote address of the broker's own in-process peers. */
export const LOCAL_ADDRESS = 'local';

/** How long unsent data may stay over `maxBufferedBytes` before the reader counts as slow ([SB-8-1]). */
const SLOW_CONSUMER_GRACE_MS = 1000;

/**
 * The byte stream under a WebSocket: corked while a batch of frames is written to it, and written to
 * directly with a text frame made whole (textFrame), which ws's own writes (ping, pong, close) follow in
 * order: the server never compresses (perMessageDeflate is off), so ws queues nothing of its own.
 */
export interface Corkable {
  cork(): void;
  uncork(): void;
  write(chunk: Buffer): boolean;
}

export type ErrorDetails = Omit<ErrorFrame, 'action' | 'code' | 'message'>;

/** What a session counts of what it writes (metrics.ts). */
export interface SessionCounters {
  readonly framesOut: Record<BrokerAction, number>;
  bytesOut: number;
  slowConsumerCloses: number;
}

export class Session {
  readonly id: string;
  readonly dialect: Dialect;
  readonly remoteAddress: string;
  /** Names held, in the order taken; the first is the primary name. */
  readonly names = new Set<string>();
  /** Names this connection registered as durable ([SB-6.3-1]). */
  readonly durableNames = new Set<string>();
  /** Settles when the socket has closed, however it closed. */
  readonly closed: Promise<void>;
  readonly #ws: SessionSocket;
  readonly #stream: Corkable | undefined;
  #corked = false;
  #slowCheck: NodeJS.Timeout | undefined;
  /** Events received and not yet handled ([SB-7-5]). */
  readonly inbox = new Inbox();
  readonly #batch: Batch | undefined;
  readonly #limits: Limits;
  readonly #counters: SessionCounters;
  /** Who the connection is; undefined until it authenticates when the broker admits no anonymous client. */
  identity: Identity | undefined;
  /** True once the connection presented a valid token ([SB-4.5-1]). */
  authenticated = false;
  /**
   * The broker's own peers (peer.ts): exempt from the heartbeat and the bad-frame budget, never counted
   * per address.
   */
  readonly trusted: boolean;
  /** Told of every `limit_exceeded` sent to this connection, and of its slow-consumer close (the broker's event). */
  onLimitExceeded: ((limit: string) => void) | undefined;
  /** Why the broker closed the connection, for the disconnect event and the log. */
  closeReason = '';
  /** When the connection was accepted (ms since the epoch), for introspection (lib/monitor). */
  readonly connectedAt = Date.now();
  /** Frames and bytes received (connections.ts counts them) and written, for introspection (lib/monitor). */
  readonly traffic = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0 };
  /** False once a ping went out unanswered; the heartbeat drops the session if it stays false ([SB-2-7]). */
  alive = true;
  #budgetWindowStart = 0;
  #budgetSpent = 0;
  #closing = false;

  constructor(
    id: string,
    ws: SessionSocket,
    dialect: Dialect,
    remoteAddress: string,
    limits: Limits,
    counters: SessionCounters,
    batch?: Batch,
    stream?: Corkable,
  ) {
    this.id = id;
    this.#ws = ws;
    this.dialect = dialect;
    this.remoteAddress = remoteAddress;
    this.#limits = limits;
    this.#counters = counters;
    this.#stream = stream;
    this.#batch = batch;
    this.trusted = remoteAddress === LOCAL_ADDRESS;
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
  }

  /** The name this connection sends from: the oldest name it still holds. */
  get primaryName(): string | undefined {
    for (const name of this.names) return name;
    return undefined;
  }

  /** Bytes written to the connection and not yet sent, for introspection (lib/monitor). */
  get bufferedBytes(): number {
    return this.#ws.bufferedAmount;
  }

  /** True while frames can be written to the connection. */
  get isOpen(): boolean {
    return !this.#closing && this.#ws.readyState === this.#ws.OPEN;
  }

  /**
   * True while the connection's frames are handled: until the broker decides to close it, or until its
   * close is handled, after the frames that arrived before it ([SB-2-8]).
   */
  get accepting(): boolean {
    return !this.#closing && !this.inbox.ended;
  }

  /** Write a frame; frames a legacy client does not know are never written ([SB-2-3]). */
  send(frame: BrokerFrame): void {
    this.write(frame.action, encode(frame));
  }

  /**
   * Write an already encoded frame of kind `action`: the one way out. `data` may be a Buffer shared by
   * every receiver of the same frame, written as text.
   */
  write(action: BrokerAction, data: string | Buffer): void {
    if (this.dialect === 'legacy' && !LEGACY_BROKER_ACTIONS.has(action)) return;
    if (!this.isOpen) return;
    this.#counters.framesOut[action]++;
    this.#counters.bytesOut += data.length;
    this.traffic.framesOut++;
    this.traffic.bytesOut += data.length;
    const batch = this.#batch;
    if (batch !== undefined && batch.corking && !this.#corked && this.#stream !== undefined) {
      this.#corked = true;
      this.#stream.cork();
      batch.written.push(this);
    }
    // A frame of its own goes out as one buffer in one write; a frame shared by many receivers is not
    // copied once per receiver: ws writes its header and the shared body.
    if (typeof data === 'string' && this.#stream !== undefined) this.#stream.write(textFrame(data));
    else if (typeof data === 'string') this.#ws.send(data);
    else this.#ws.send(data, AS_TEXT);
    // While corked, the pass's own frames are still here: they are counted when it ends (uncork).
    if (!this.#corked) this.#checkBuffered();
  }

  /** Write the `message` frame of delivery `id` of a request, which reached this connection as `name`. */
  writeDelivery(_id: string, _name: string, data: string | Buffer): void {
    this.write('message', data);
  }

  uncork(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#stream?.uncork();
    this.#checkBuffered();
  }

  /** Stop reading from the connection while its inbox is full ([SB-7-5]). */
  pause(): void {
    this.#ws.pause?.();
  }

  resume(): void {
    this.#ws.resume?.();
  }

  ping(): void {
    this.alive = false;
    this.#ws.ping();
  }

  /**
   * Call `done(true)` once every frame written so far has left for the connection's socket, or
   * `done(false)` if they cannot: frames leave in order, so a ping written after them is the probe.
   */
  whenFlushed(done: (flushed: boolean) => void): void {
    if (!this.isOpen) return done(false);
    this.#ws.ping(undefined, undefined, (error) => done(error === undefined || error === null));
  }

  /** Tell an extended client about an error ([SB-7-1], [SB-7-2]); spend the budget when the code says so. */
  error(code: ErrorCode, message: string, details: ErrorDetails = {}): void {
    this.send({ action: 'error', code, message, ...details });
    if (code === 'limit_exceeded') this.onLimitExceeded?.(details.limit ?? 'unknown');
    if (ERROR_CODES[code].budget && !this.trusted) this.#spendBudget();
  }

  /** Answer a frame the codec refused ([SB-4.0-1], [SB-4.0-2], [SB-4.0-3]). */
  refuse(failure: DecodeFailure): void {
    const { code, message, ...details } = failure;
    this.error(code, message, details);
  }

  close(code: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    this.closeReason = reason;
    this.#ws.close(code, reason);
  }

  terminate(reason = 'terminated'): void {
    if (!this.#closing) this.closeReason = reason;
    this.#closing = true;
    this.#ws.terminate();
  }

  /**
   * [SB-8-1] A reader too slow for what it is sent is closed with 4008: when its unsent data stays over
   * `maxBufferedBytes` for SLOW_CONSUMER_GRACE_MS, or passes four times it at any moment (which bounds
   * what one reader can cost). A burst that a healthy reader drains within the grace is not a slow reader.
   * The close frame waits behind the unsent data, so the socket is cut if it has not closed within a
   * second (the transport's close timeout). Senders are never blocked: writes to it stop at once.
   */
  #checkBuffered(): void {
    const buffered = this.#ws.bufferedAmount;
    const cap = this.#limits.maxBufferedBytes;
    if (buffered <= cap) return;
    if (buffered > cap * 4) {
      this.#slowConsumer();
      return;
    }
    if (this.#slowCheck !== undefined) return;
    this.#slowCheck = setTimeout(() => {
      this.#slowCheck = undefined;
      if (this.#ws.bufferedAmount > cap) this.#slowConsumer();
    }, SLOW_CONSUMER_GRACE_MS);
    this.#slowCheck.unref();
  }

  #slowConsumer(): void {
    if (this.#closing) return;
    this.#counters.slowConsumerCloses++;
    this.onLimitExceeded?.('maxBufferedBytes');
    this.close(CLOSE_CODES.slowConsumer, 'slow consumer');
  }

  /** [SB-7-3] More than `badFrameBudget` budget-spending frames within the window closes with 1008. */
  #spendBudget(): void {
    const now = Date.now();
    if (now - this.#budgetWindowStart > this.#limits.badFrameWindowMs) {
      this.#budgetWindowStart = now;
      this.#budgetSpent = 0;
    }
    this.#budgetSpent++;
    if (this.#budgetSpent > this.#limits.badFrameBudget) {
      this.close(CLOSE_CODES.policyViolation, 'bad frame budget exceeded');
    }
  }
}

/**
 * One unmasked, final WebSocket text frame (RFC 6455 section 5.2) holding `text`, header and payload in
 * one buffer: what ws's Sender would write as two chunks (a corked writev) for each frame.
 */
function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN, opcode 1 (text)
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(text, header, length, 'utf8');
  return frame;
}
