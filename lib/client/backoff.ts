/**
 * Reconnect delays: exponential backoff with jitter, capped. The n-th consecutive failed attempt
 * (n = 0, 1, 2, ...) waits
 *
 *     base = min(maxDelayMs, initialDelayMs * factor ** n)
 *     delay = base * (1 - jitter * random())
 *
 * so with the defaults (100 ms, x2, cap 10 s, jitter 0.5) the waits are 50-100 ms, 100-200 ms, 200-400 ms,
 * ... up to 5-10 s. Jitter spreads the clients of a restarted broker over the window instead of letting
 * them all knock at the same instant; keeping at least half the base delay keeps the cap meaningful.
 */

export interface ReconnectOptions {
  /** Delay before the first reconnect attempt, before jitter, in milliseconds. Default: 100. */
  initialDelayMs?: number;
  /** Cap of the delay between two attempts, before jitter, in milliseconds. Default: 10000. */
  maxDelayMs?: number;
  /** Growth of the delay after each failed attempt. Default: 2. */
  factor?: number;
  /** Fraction of the delay that is random, from 0 (none) to 1 (anywhere between 0 and the delay). Default: 0.5. */
  jitter?: number;
  /**
   * Consecutive failed attempts after which the client gives up and closes, rejecting what waits with
   * `unreachable`. A successful registration resets the count. Default: Infinity (never give up).
   */
  maxAttempts?: number;
}

export type ResolvedBackoff = Required<ReconnectOptions>;

export const DEFAULT_RECONNECT: Readonly<ResolvedBackoff> = Object.freeze({
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Infinity,
});

/** The delay before attempt number `failures` (0 after the first failure), in whole milliseconds. */
export function backoffDelay(options: ResolvedBackoff, failures: number, random: () => number = Math.random): number {
  // Math.min before the power would overflow matters only for huge `failures`: ** gives Infinity, min caps it.
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** Math.max(0, failures));
  return Math.round(base * (1 - options.jitter * random()));
}

/** Problems with reconnect options, as sentences; empty when they are valid. */
export function checkReconnect(options: ReconnectOptions): string[] {
  const problems: string[] = [];
  const nonNegative = (key: keyof ReconnectOptions) => {
    const value = options[key];
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && !Number.isNaN(value))) {
      problems.push(`reconnect.${key} must be a number >= 0`);
    }
  };
  nonNegative('initialDelayMs');
  nonNegative('maxDelayMs');
  nonNegative('maxAttempts');
  if (options.factor !== undefined && !(typeof options.factor === 'number' && options.factor >= 1)) {
    problems.push('reconnect.factor must be a number >= 1');
  }
  if (options.jitter !== undefined && !(typeof options.jitter === 'number' && options.jitter >= 0 && options.jitter <= 1)) {
    problems.push('reconnect.jitter must be a number from 0 to 1');
  }
  return problems;
}
