/**
 * The caller's side of a streaming request (protocol.md section 13): the parts of the answer as an async
 * iterable, and the final outcome as `result`.
 *
 * Flow control is the consumer's pace: a part counts as taken when the loop asks for the next one, and
 * taken parts are given back to the broker as credit (`pull`), in batches of PULL_BATCH, or at once when
 * the loop has caught up and waits. So a slow loop bounds what is sent towards it to the broker's
 * `streamWindow` parts per receiver, and a loop that waits never deadlocks on credit it kept back.
 * Leaving the loop early (`break`, `return`, a throw) cancels the request at the broker, whose receivers
 * are told ([SB-6.1-2]).
 */
import type { RequestResult } from './requests.js';

/** One part of a streaming answer: the receiver's name and its value. */
export interface StreamPart<T = unknown> {
  from: string;
  message: T;
}

/** Parts taken before they are given back as credit, when the loop does not wait. */
const PULL_BATCH = 8;

/** What the stream needs of the client: credit back to the broker, and the request's cancellation. */
export interface StreamLink {
  /** Send `pull` for `n` parts taken, when the request is in flight. */
  pull(n: number): void;
  /** Cancel the request (the client aborts its operation, which sends `cancel`). */
  cancel(): void;
}

export class AnswerStream<T = unknown, R = unknown> implements AsyncIterable<StreamPart<T>> {
  /** The final outcome: the answer that ended the stream, or the request's error. */
  result!: Promise<RequestResult<R>>;
  readonly #parts: StreamPart<T>[] = [];
  #head = 0;
  #taken = 0;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void) | undefined;
  #iterating = false;
  #link: StreamLink | undefined;

  /** Start with the request's outcome (the client does, once it submitted the request). */
  begin(result: Promise<RequestResult<R>>): void {
    this.result = result;
    // Handled here, so that a caller that reads only the parts never sees an unhandled rejection.
    result.then(
      () => this.#end(undefined),
      (error: unknown) => this.#end({ error }),
    );
  }

  /** Connect the stream to its request (the client does, once it made the operation). */
  attach(link: StreamLink): void {
    this.#link = link;
  }

  /** A `progress` frame for this request arrived. */
  part(from: string, message: unknown): void {
    if (this.#ended) return;
    this.#parts.push({ from, message: message as T });
    this.#wake?.();
  }

  /** Parts received and not yet taken by the loop. */
  get buffered(): number {
    return this.#parts.length - this.#head;
  }

  #end(failure: { error: unknown } | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#failure = failure;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<StreamPart<T>, void, undefined> {
    if (this.#iterating) throw new TypeError('a stream can be iterated once');
    this.#iterating = true;
    let finished = false;
    try {
      for (;;) {
        if (this.#head < this.#parts.length) {
          const part = this.#parts[this.#head] as StreamPart<T>;
          this.#parts[this.#head++] = undefined as unknown as StreamPart<T>;
          if (this.#head > 1024 && this.#head * 2 > this.#parts.length) {
            this.#parts.splice(0, this.#head);
            this.#head = 0;
          }
          yield part;
          // Asked for the next one: the part was taken.
          this.#taken++;
          if (this.#taken >= PULL_BATCH) this.#pull();
          continue;
        }
        if (this.#ended) {
          finished = true;
          if (this.#failure !== undefined) throw this.#failure.error;
          return;
        }
        this.#pull(); // caught up: everything taken goes back as credit before waiting [SB-13-3]
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
      }
    } finally {
      if (!finished && !this.#ended) this.#link?.cancel(); // left early: nobody reads the rest
    }
  }

  #pull(): void {
    if (this.#taken === 0 || this.#ended) return;
    this.#link?.pull(this.#taken);
    this.#taken = 0;
  }
}
