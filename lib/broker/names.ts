/**
 * The name registry: which live connection holds which name (protocol.md section 3, [SB-3-2], [SB-3-3]).
 *
 * Kept behind the `NameRegistry` interface so that a cluster mode can replace it without touching the
 * handlers. Names come off the wire, so they are keys of a Map, never of a plain object.
 */
export interface NameRegistry<Holder> {
  /** The holder of `name`, if any. */
  lookup(name: string): Holder | undefined;
  /** Make `holder` the holder of a free name. The caller has checked that the name is free. */
  take(name: string, holder: Holder): void;
  /** Release `name` if `holder` holds it; true when it did. */
  release(name: string, holder: Holder): boolean;
  /** How many names are held. */
  readonly size: number;
}

export class MemoryNameRegistry<Holder> implements NameRegistry<Holder> {
  readonly #holders = new Map<string, Holder>();

  lookup(name: string): Holder | undefined {
    return this.#holders.get(name);
  }

  take(name: string, holder: Holder): void {
    this.#holders.set(name, holder);
  }

  release(name: string, holder: Holder): boolean {
    if (this.#holders.get(name) !== holder) return false;
    this.#holders.delete(name);
    return true;
  }

  get size(): number {
    return this.#holders.size;
  }
}
