/**
 * The service registry (protocol.md section 14): the contract announced for each held name, and the
 * stats the broker measures for it. A name has at most one contract; it lives while the name has a holder
 * and goes with the last one ([SB-14-1]). Stats are kept only for names with a contract, so a name that is
 * no service costs one Map lookup per ended request, and nothing when no service is announced at all
 * ([SB-14-5]). Per-method stats exist only for the methods of the contract: a request with another event
 * (or none) counts for the service alone, so nothing from the wire adds a key. Names and method names
 * come off the wire: Map keys, never keys of a plain object. Nothing here is on a request's route: a
 * method call is routed as any send, and no message is checked against a contract [SB-14-2].
 */
import type { AnnounceFrame, MethodContract, MethodStats, ServiceInfo, ServiceStats } from '../protocol/wire.js';
import type { Outcome, PendingRequest } from './pending.js';

/** How many recent answer times each service and method keeps for its p50/p99: a fixed bound. */
export const LATENCY_SAMPLES = 256;

/**
 * What one broker (a cluster node) counted for a service or a method, to be added to what the other
 * nodes counted: the counts, and its recent answer times.
 */
export interface RawCounts {
  readonly requests: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly samples: readonly number[];
}

/** A service's counts on one node, and each method's, as [method, counts] pairs (method names come off the wire). */
export interface RawStats {
  readonly counts: RawCounts;
  readonly methods: ReadonlyArray<readonly [string, RawCounts]>;
}

/** Requests ended for a service or a method: counts, and a ring of the most recent answer times. */
class Counter {
  requests = 0;
  errors = 0;
  timeouts = 0;
  /** Grows with the answers up to LATENCY_SAMPLES, then is a ring: an announce alone allocates none. */
  readonly #samples: number[] = [];
  #count = 0;

  answered(ms: number): void {
    this.#samples[this.#count % LATENCY_SAMPLES] = ms;
    this.#count++;
  }

  raw(): RawCounts {
    return { requests: this.requests, errors: this.errors, timeouts: this.timeouts, samples: this.#samples.slice(0, Math.min(this.#count, LATENCY_SAMPLES)) };
  }
}

/** The stats of counts from one or several nodes: the sums, and p50/p99 over every sample. */
function read(parts: readonly RawCounts[]): MethodStats {
  const stats: MethodStats = { requests: 0, errors: 0, timeouts: 0 };
  const samples: number[] = [];
  for (const part of parts) {
    stats.requests += part.requests;
    stats.errors += part.errors;
    stats.timeouts += part.timeouts;
    samples.push(...part.samples);
  }
  const n = samples.length;
  if (n === 0) return stats;
  samples.sort((a, b) => a - b);
  const at = (q: number) => round(samples[Math.min(n - 1, Math.ceil(q * n) - 1)]);
  return { ...stats, p50Ms: at(0.5), p99Ms: at(0.99) };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

interface Service {
  readonly version: string;
  readonly description: string | undefined;
  readonly methods: Map<string, MethodContract>;
  readonly stats: Counter;
  readonly byMethod: Map<string, Counter>;
}

const EVENT = /,"event":"([^"]+)"/;

export class ServiceRegistry {
  readonly #services = new Map<string, Service>();

  get size(): number {
    return this.#services.size;
  }

  version(name: string): string | undefined {
    return this.#services.get(name)?.version;
  }

  /** Keep the contract of `frame.id`, replacing any earlier one (its stats start again when the version changes). */
  announce(frame: AnnounceFrame): void {
    const earlier = this.#services.get(frame.id);
    const methods = new Map<string, MethodContract>(Object.entries(frame.methods));
    const keep = earlier !== undefined && earlier.version === frame.version;
    const byMethod = new Map<string, Counter>();
    for (const method of methods.keys()) byMethod.set(method, (keep && earlier.byMethod.get(method)) || new Counter());
    this.#services.set(frame.id, {
      version: frame.version,
      description: frame.description,
      methods,
      stats: keep ? earlier.stats : new Counter(),
      byMethod,
    });
  }

  /** The name lost its last holder: its contract and stats go ([SB-14-1]). */
  drop(name: string): void {
    this.#services.delete(name);
  }

  /** A request ended (lib/broker/outcomes.ts): count it for each service among the names it counts for. */
  ended(request: PendingRequest<unknown>, outcome: Outcome | undefined): void {
    if (this.#services.size === 0) return;
    if (outcome?.kind === 'answer' || outcome?.kind === 'error-answer') {
      this.#count(outcome.from, request, outcome.kind === 'answer' ? 'answer' : 'error');
      return;
    }
    const kind = outcome === undefined || outcome.kind === 'gathered' ? 'other' : outcome.code === 'timeout' ? 'timeout' : 'error';
    for (const name of request.slotNames) this.#count(name, request, kind);
  }

  #count(name: string, request: PendingRequest<unknown>, kind: 'answer' | 'error' | 'timeout' | 'other'): void {
    const service = this.#services.get(name);
    if (service === undefined) return;
    const event = EVENT.exec(request.payload.suffix)?.[1];
    const method = event === undefined ? undefined : service.byMethod.get(event);
    const ms = performance.now() - request.startedAt;
    for (const counter of method === undefined ? [service.stats] : [service.stats, method]) {
      counter.requests++;
      if (kind === 'error') counter.errors++;
      else if (kind === 'timeout') counter.timeouts++;
      if (kind === 'answer' || kind === 'error') counter.answered(ms);
    }
  }

  /** What this broker counted for `name`, for another cluster node's listing; undefined when it is no service. */
  raw(name: string): RawStats | undefined {
    const service = this.#services.get(name);
    if (service === undefined) return undefined;
    return { counts: service.stats.raw(), methods: [...service.byMethod].map(([method, counter]) => [method, counter.raw()] as const) };
  }

  /** The listing of `name`, with `members` holders; with `elsewhere`, what other cluster nodes counted too. */
  info(name: string, members: number, elsewhere: readonly RawStats[] = []): ServiceInfo | undefined {
    const service = this.#services.get(name);
    if (service === undefined) return undefined;
    const methods: Record<string, MethodContract> = Object.create(null);
    const stats: Record<string, MethodStats> = Object.create(null);
    for (const [method, contract] of service.methods) {
      methods[method] = contract;
      const others = elsewhere.flatMap((raw) => raw.methods.filter(([m]) => m === method).map(([, counts]) => counts));
      stats[method] = read([(service.byMethod.get(method) as Counter).raw(), ...others]);
    }
    const total: ServiceStats = { ...read([service.stats.raw(), ...elsewhere.map((raw) => raw.counts)]), methods: stats };
    const info: ServiceInfo = { id: name, version: service.version, methods, members, stats: total };
    return service.description === undefined ? info : { ...info, description: service.description };
  }

  names(): IterableIterator<string> {
    return this.#services.keys();
  }
}
