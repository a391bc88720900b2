/**
 * The serial executor of every connection (protocol.md [SB-7-5], [SB-7-4], [SB-2-8]): what a connection
 * sends is handled here, one event at a time, in the order it arrived; the close of the connection is one
 * more event, after the frames that arrived before it.
 *
 * It adapts to load (issue 19). A frame that finds nothing waiting anywhere (no connection has an event
 * queued, no pass is due, its own connection is not held) is handled at once, as it arrives, as a relay
 * would: no wait for a later phase of the event loop, no inbox, no cork. That is a pass of one frame, so
 * the rules below hold for it too. A burst goes to the passes whole: a frame whose read from the socket
 * holds more (the caller says so), every frame after one handled on arrival until the microtask that ends
 * that synchronous run, and every frame that arrives while anything waits are queued and handled in passes,
 * where the frames written to one socket leave in one write.
 *
 * Each connection has an inbox (its frames not yet handled, counted in frames and bytes). Inboxes are
 * drained in passes: each pass takes up to BATCH events from every connection in turn, so a flooding
 * connection cannot hold the loop; a connection whose inbox passes INBOX_HIGH_FRAMES or INBOX_HIGH_BYTES
 * is not read until it drains below the low marks. Every socket written to during a pass is corked until
 * its end, so the frames of one pass leave in one write.
 *
 * A connection may be held while asynchronous work for it runs (a policy hook): its events wait, in
 * order, until the work settles, however it settles. Whatever a handler throws is caught here: the
 * executor never lets an error out of a pass.
 */
import type { Session } from './session.js';

/** Events handled per connection per pass ([SB-7-5]). */
export const BATCH = 16;
/** Unhandled frames at which a connection stops being read, and below which it is read again. */
export const INBOX_HIGH_FRAMES = 256;
const INBOX_LOW_FRAMES = 64;
/** Unhandled bytes at which a connection stops being read, and below which it is read again. */
export const INBOX_HIGH_BYTES = 4 * 1024 * 1024;
const INBOX_LOW_BYTES = 1024 * 1024;

/** The close of a connection, queued behind its frames. */
interface Closed {
  readonly code: number;
}

type Event = Buffer | Closed;

/** A connection's events not yet handled. */
export class Inbox {
  readonly events: (Event | undefined)[] = [];
  head = 0;
  /** Bytes of the frames not yet handled. */
  bytes = 0;
  /** True while asynchronous work holds the connection's events. */
  held = false;
  /** True once the close event was handled: nothing more is taken. */
  ended = false;
  paused = false;

  get waiting(): number {
    return this.events.length - this.head;
  }
}

/** What the executor calls: the decode and dispatch of a frame, and the cleanup of a closed connection. */
export interface ExecutorHost {
  handle(session: Session, data: Buffer): void;
  closed(session: Session, code: number): void;
  /** A throw that escaped handling (the handler's own catch reports the ones with a frame). */
  fault(error: unknown): void;
}

/** The sockets written to during the current pass, uncorked when it ends. */
export class Batch {
  /** True during a pass: a session corks its socket at its first write. */
  corking = false;
  readonly written: Session[] = [];

  /**
   * Cork what is written outside a pass until the synchronous run in progress ends (a microtask): the
   * frames written for one read from another source (a batch of records from another cluster node) leave
   * in one write per socket, not one each.
   */
  untilMicrotask(): void {
    if (this.corking) return;
    this.corking = true;
    queueMicrotask(this.end);
  }

  /** Stop corking, and uncork every socket written to meanwhile. */
  readonly end = (): void => {
    this.corking = false;
    const written = this.written;
    for (let i = 0; i < written.length; i++) written[i].uncork();
    written.length = 0;
  };
}

export class Executor {
  readonly batch = new Batch();
  readonly #host: ExecutorHost;
  /** Connections with events to handle, in the order they got them: the round-robin of a pass. */
  readonly #ready = new Set<Session>();
  #scheduled = false;
  /** True while an event is being handled: a frame that arrives meanwhile (the broker's own peer) is queued. */
  #busy = false;
  /**
   * True from a frame handled on arrival to the end of the synchronous run it arrived in (a microtask):
   * the frames read from the socket with it are a burst, and queued.
   */
  #burst = false;
  readonly #burstEnded = (): void => {
    this.#burst = false;
  };

  constructor(host: ExecutorHost) {
    this.#host = host;
  }

  /**
   * A frame from `session`, to be handled after everything it sent before. `more`: the read it came in
   * holds more (it is part of a burst, to be batched with the rest).
   */
  frame(session: Session, data: Buffer, more = false): void {
    const inbox = session.inbox;
    if (inbox.ended) return;
    if (!more && !this.#scheduled && !this.#busy && !this.#burst && !inbox.held && inbox.head === inbox.events.length) {
      // Nothing waits anywhere ([SB-7-5] holds trivially): handle it now.
      this.#burst = true;
      queueMicrotask(this.#burstEnded);
      if (!session.accepting) return;
      this.#busy = true;
      try {
        this.#host.handle(session, data);
      } catch (error) {
        this.#host.fault(error);
      } finally {
        this.#busy = false;
      }
      return;
    }
    inbox.events.push(data);
    inbox.bytes += data.length;
    if (!inbox.paused && (inbox.waiting >= INBOX_HIGH_FRAMES || inbox.bytes >= INBOX_HIGH_BYTES)) {
      inbox.paused = true;
      session.pause();
    }
    this.#wake(session);
  }

  /** `session`'s socket closed: its cleanup runs once every frame that arrived before is handled. */
  close(session: Session, code: number): void {
    const inbox = session.inbox;
    if (inbox.ended) return;
    inbox.events.push({ code });
    this.#wake(session);
  }

  /**
   * Hold `session`'s events until `work` settles. A rejection is a fault: reported, and the events go
   * on. The work must settle: callers bound it with a deadline.
   */
  hold(session: Session, work: Promise<unknown>): void {
    session.inbox.held = true;
    const release = () => {
      session.inbox.held = false;
      this.#wake(session);
    };
    work.then(release, (error: unknown) => {
      this.#host.fault(error);
      release();
    });
  }

  #wake(session: Session): void {
    const inbox = session.inbox;
    if (inbox.held || inbox.waiting === 0) return;
    this.#ready.add(session);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#pass);
    }
  }

  readonly #pass = (): void => {
    const batch = this.batch;
    batch.corking = true;
    this.#busy = true;
    try {
      for (const session of this.#ready) this.#drain(session);
    } finally {
      this.#busy = false;
      // Due again only now: a frame that arrived during the pass (the broker's own peer) waits for the next one.
      this.#scheduled = false;
      batch.end();
    }
    if (this.#ready.size > 0) {
      this.#scheduled = true;
      setImmediate(this.#pass);
    }
  };

  /** Up to BATCH events of one connection. */
  #drain(session: Session): void {
    const inbox = session.inbox;
    for (let taken = 0; taken < BATCH && !inbox.held && inbox.head < inbox.events.length; taken++) {
      const event = inbox.events[inbox.head] as Event;
      inbox.events[inbox.head++] = undefined; // let go of the frame's memory now, not at the end of the inbox
      if (!Buffer.isBuffer(event)) {
        this.#end(session, event.code);
        break;
      }
      inbox.bytes -= event.length;
      // A connection the broker is closing is handled no further; one its peer closed is, up to the close.
      if (!session.accepting) continue;
      try {
        this.#host.handle(session, event);
      } catch (error) {
        this.#host.fault(error);
      }
    }
    if (inbox.head >= inbox.events.length) {
      inbox.events.length = 0;
      inbox.head = 0;
    }
    if (inbox.ended || inbox.held || inbox.waiting === 0) this.#ready.delete(session);
    if (inbox.paused && inbox.waiting < INBOX_LOW_FRAMES && inbox.bytes < INBOX_LOW_BYTES) {
      inbox.paused = false;
      session.resume();
    }
  }

  #end(session: Session, code: number): void {
    const inbox = session.inbox;
    inbox.ended = true;
    inbox.events.length = 0;
    inbox.head = 0;
    inbox.bytes = 0;
    try {
      this.#host.closed(session, code);
    } catch (error) {
      this.#host.fault(error);
    }
  }
}
