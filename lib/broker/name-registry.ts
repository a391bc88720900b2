/**
 * The name registry: which live connections hold which name (protocol.md section 3 and 6.4).
 *
 * A name is held exclusively by one connection ([SB-3-2]), or shared by the members of a responder pool
 * ([SB-6.4-1]); the two modes never mix. Kept behind the `NameRegistry` interface so that a cluster mode
 * can replace it without touching the handlers. Names come off the wire, so they are Map keys, never
 * keys of a plain object ([SB-3-3]).
 */
export type NameEntry<Holder> =
  | { readonly shared: false; readonly holder: Holder }
  | { readonly shared: true; readonly members: Holder[]; cursor: number };

export interface NameRegistry<Holder> {
  entry(name: string): NameEntry<Holder> | undefined;
  /** Add `holder` to a free name, or to a pool (the caller has checked the modes); nothing if it holds it. */
  take(name: string, holder: Holder, shared: boolean): void;
  /** Remove `holder` from `name`; true when it held it. */
  release(name: string, holder: Holder): boolean;
  /**
   * The holder to deliver to: the exclusive holder, or the next pool member in round-robin order that
   * `usable` accepts and `exclude` does not contain ([SB-6.4-1]).
   */
  pick(name: string, usable?: (holder: Holder) => boolean, exclude?: ReadonlySet<Holder>): Holder | undefined;
  /** How many names are held (a pool counts once). */
  readonly size: number;
}

export class MemoryNameRegistry<Holder> implements NameRegistry<Holder> {
  readonly #entries = new Map<string, NameEntry<Holder>>();

  entry(name: string): NameEntry<Holder> | undefined {
    return this.#entries.get(name);
  }

  take(name: string, holder: Holder, shared: boolean): void {
    const entry = this.#entries.get(name);
    if (entry?.shared === true) {
      if (!entry.members.includes(holder)) entry.members.push(holder);
    } else this.#entries.set(name, shared ? { shared: true, members: [holder], cursor: 0 } : { shared: false, holder });
  }

  release(name: string, holder: Holder): boolean {
    const entry = this.#entries.get(name);
    if (entry === undefined) return false;
    if (!entry.shared) {
      if (entry.holder !== holder) return false;
      this.#entries.delete(name);
      return true;
    }
    const index = entry.members.indexOf(holder);
    if (index === -1) return false;
    entry.members.splice(index, 1);
    if (entry.cursor > index) entry.cursor--;
    if (entry.members.length === 0) this.#entries.delete(name);
    return true;
  }

  pick(name: string, usable?: (holder: Holder) => boolean, exclude?: ReadonlySet<Holder>): Holder | undefined {
    const entry = this.#entries.get(name);
    if (entry === undefined) return undefined;
    if (!entry.shared) return exclude?.has(entry.holder) ? undefined : entry.holder;
    const { members } = entry;
    for (let i = 0; i < members.length; i++) {
      const index = (entry.cursor + i) % members.length;
      const member = members[index];
      if (exclude?.has(member) || (usable !== undefined && !usable(member))) continue;
      entry.cursor = (index + 1) % members.length;
      return member;
    }
    return undefined;
  }

  get size(): number {
    return this.#entries.size;
  }
}
