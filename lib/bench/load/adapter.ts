/**
 * How the load generator talks to one system: connect a requester, a responder (which echoes every
 * request's message as its answer) or an idle registered connection. One file per system implements it.
 */
export interface Requester {
  /**
   * Send `message` to `dests` (one, or two); resolves on the first answer, or with `gather` once every
   * destination has answered. It resolves with the decoded answer (with `gather`, every answer), as a
   * client library hands it to its caller: every driver pays alike for keeping an answer until then.
   * (Measured at 4 KiB: a driver that dropped the answer it had decoded spent a third of the GC time
   * of one that handed it over. A promise made at the call may have been promoted to the old generation
   * by the time its answer comes; V8's scavenges then keep the answer alive, and promote it, until a
   * full collection.)
   */
  request(dests: readonly string[], message: unknown, gather: boolean): Promise<unknown>;
  close(): Promise<void>;
}

export interface Closeable {
  close(): Promise<void>;
}

export interface Target {
  host: string;
  port: number;
  /** Every responder name, in order: two-destination requests go to neighbours (i, i + 1). */
  responders: readonly string[];
}

export interface Adapter {
  requester(name: string): Promise<Requester>;
  responder(name: string): Promise<Closeable>;
  /**
   * An idle registered connection, from `localAddress` (a loopback address) where the system's client
   * can bind one: a broker that bounds connections per remote address sees many clients, as it would.
   */
  idle(name: string, localAddress: string): Promise<Closeable>;
  /** What drives the system, for the results (e.g. "lib/client" or "raw ws"). */
  readonly driver: string;
}

/** Deadline of one request where the system takes one; the harness bounds everything else by time. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Deadline of one connection (open and registered). */
export const CONNECT_TIMEOUT_MS = 15_000;

/** Reject with a clear message when `promise` takes longer than `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
