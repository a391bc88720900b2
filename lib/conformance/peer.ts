/**
 * One scripted peer of a case: a raw WebSocket connection (the `ws` package) whose received frames
 * queue in an inbox with their arrival times. Steps wait on the inbox or on the close, always with a
 * deadline. Everything that happens is written to the case's transcript.
 */
import WebSocket from 'ws';
import type { PeerSpec } from './case.js';
import type { Transcript } from './transcript.js';

export const SUBPROTOCOL = 'switchboard.v1';

export interface Received {
  readonly at: number;
  readonly text: string;
  /** The parsed frame; undefined when the message was binary or not JSON. */
  readonly value: unknown;
}

export interface Closed {
  readonly at: number;
  readonly code: number;
  readonly reason: string;
}

export class Peer {
  readonly inbox: Received[] = [];
  closed: Closed | undefined;
  /** True once a step expected or caused the close; an unexpected close fails the case. */
  closeExpected = false;
  #ws: WebSocket | undefined;
  #wake: (() => void) | undefined;

  constructor(
    readonly label: string,
    readonly spec: PeerSpec,
    private readonly transcript: Transcript,
  ) {}

  get connected(): boolean {
    return this.#ws !== undefined && this.closed === undefined;
  }

  /** Open a new connection (a peer may reconnect after a close). Rejects with the reason it failed. */
  async connect(url: string, within: number): Promise<void> {
    if (this.connected) throw new Error('it is already connected');
    const protocols = this.spec.extended ? [SUBPROTOCOL] : [];
    this.transcript.add(this.label, '  ', `connect ${url} offering ${protocols.length === 0 ? 'no subprotocol' : protocols.join(', ')}`);
    this.inbox.length = 0;
    this.closed = undefined;
    this.closeExpected = false;
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false, handshakeTimeout: within, autoPong: this.spec.autoPong });
    this.#ws = ws;
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? `binary ${Buffer.from(data as Buffer).toString('hex')}` : data.toString();
      const at = this.transcript.add(this.label, '<-', text);
      this.inbox.push({ at, text, value: isBinary ? undefined : parse(text) });
      this.#notify();
    });
    ws.on('close', (code, reason) => {
      const at = this.transcript.add(this.label, '  ', `closed ${code} ${JSON.stringify(reason.toString())}`);
      this.closed = { at, code, reason: reason.toString() };
      this.#notify();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => {
        this.transcript.add(this.label, '  ', `open, subprotocol ${ws.protocol === '' ? 'none' : JSON.stringify(ws.protocol)}`);
        resolve();
      });
      ws.on('error', (error) => {
        this.transcript.add(this.label, '  ', `error: ${error.message}`);
        reject(error);
      });
    });
  }

  /** Stop reading from the connection (received data waits in the network buffers), or start again. */
  pause(paused: boolean): void {
    const ws = this.#ws;
    if (ws === undefined || this.closed !== undefined) throw new Error(`peer ${this.label} is not connected`);
    this.transcript.add(this.label, '  ', paused ? 'pause reading' : 'resume reading');
    if (paused) ws.pause();
    else ws.resume();
  }

  send(data: string | Buffer): void {
    const ws = this.#ws;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) {
      throw new Error(`peer ${this.label} is not connected${this.closed ? ` (closed ${this.closed.code})` : ''}`);
    }
    if (typeof data === 'string') {
      this.transcript.add(this.label, '->', data);
      ws.send(data);
    } else {
      this.transcript.add(this.label, '->', `binary ${data.toString('hex')}`);
      ws.send(data, { binary: true });
    }
  }

  /** Resolves when a frame arrives, the connection closes, or the deadline (a transcript time) passes. */
  async changed(deadline: number): Promise<void> {
    const wait = deadline - this.transcript.now();
    if (wait <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = undefined;
  }

  /** The next received frame, or undefined if the connection closed or the deadline passed first. */
  async next(deadline: number): Promise<Received | undefined> {
    for (;;) {
      const frame = this.inbox.shift();
      if (frame !== undefined) return frame;
      if (this.closed !== undefined || this.transcript.now() >= deadline) return undefined;
      await this.changed(deadline);
    }
  }

  /** Close from our side with 1000 and wait for the close to complete (terminate after `within`). */
  async disconnect(within: number): Promise<void> {
    this.closeExpected = true;
    const ws = this.#ws;
    if (ws === undefined || this.closed !== undefined) return;
    this.transcript.add(this.label, '  ', 'close 1000');
    ws.close(1000);
    const deadline = this.transcript.now() + within;
    while (this.closed === undefined && this.transcript.now() < deadline) await this.changed(deadline);
    if (this.closed === undefined) {
      this.transcript.add(this.label, '  ', `no close answer within ${within} ms: terminated`);
      ws.terminate();
    }
  }

  #notify(): void {
    this.#wake?.();
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
