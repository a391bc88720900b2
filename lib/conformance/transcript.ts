/**
 * The transcript of one case: every connection event and every frame sent and received, per peer, in
 * the order they happened, with the time in milliseconds since the case started. A failing case prints
 * it; it is meant to be enough to reproduce the failure by hand.
 */
import { performance } from 'node:perf_hooks';

export type Direction = '->' | '<-' | '  ';

export interface Entry {
  readonly at: number;
  readonly who: string;
  readonly direction: Direction;
  readonly text: string;
}

/** Frames longer than this are shortened in the printed transcript (their length is kept). */
const MAX_SHOWN = 400;

export class Transcript {
  readonly #start = performance.now();
  readonly entries: Entry[] = [];

  /** Milliseconds since the case started. */
  now(): number {
    return performance.now() - this.#start;
  }

  /** Record an entry; returns its time. */
  add(who: string, direction: Direction, text: string): number {
    const at = this.now();
    this.entries.push({ at, who, direction, text });
    return at;
  }

  format(): string[] {
    const width = Math.max(4, ...this.entries.map((entry) => entry.who.length));
    return this.entries.map((entry) => {
      const time = entry.at.toFixed(1).padStart(8);
      return `${time}  ${entry.who.padEnd(width)} ${entry.direction} ${shorten(entry.text)}`;
    });
  }
}

function shorten(text: string): string {
  const flat = text.replace(/[\r\n]/g, ' ');
  return flat.length > MAX_SHOWN ? `${flat.slice(0, MAX_SHOWN)}... (${Buffer.byteLength(text)} bytes)` : flat;
}
