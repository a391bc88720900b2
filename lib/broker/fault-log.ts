/**
 * The log of the faults no `error` listener took (broker.ts): each distinct stack once, and at most
 * MAX_DISTINCT of them, so that a fault repeated by every frame neither floods the log nor grows a table.
 */
import type { Logger } from './options.js';

const MAX_DISTINCT = 100;

export class FaultLog {
  readonly #logged = new Set<string>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Log `fault` unless its stack (and its cause's) was logged before. Never throws. */
  log(fault: Error): void {
    const cause = fault.cause instanceof Error ? `\ncaused by: ${fault.cause.stack ?? fault.cause.message}` : '';
    const key = (fault.stack ?? fault.message) + cause;
    if (this.#logged.has(key) || this.#logged.size >= MAX_DISTINCT) return;
    this.#logged.add(key);
    try {
      this.#logger.error({ err: fault }, `internal error: ${fault.message}`);
    } catch {
      // a logger that throws has nowhere left to report to
    }
  }
}
