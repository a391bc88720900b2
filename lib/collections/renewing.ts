/**
 * Map and Set for keys that come and go all the time (one per request in flight), which do not make V8
 * keep dead requests alive.
 *
 * Why (issue 19, measured in lib/bench/README.md): when a V8 Map or Set rehashes, the old hash table
 * keeps its entries and a pointer to the new table (for iterators in progress). Once one table of a
 * long-lived collection is in the old generation (a full GC moves it there, or a quiet spell), that
 * dead table keeps the next one alive through every scavenge, which promotes it, and so on: every
 * request the collection ever held survives to the old generation, until a full GC, which starts the
 * chain again. Under load the broker promoted 1.3 MB per scavenge this way, ran a full GC about once a
 * second and spent a fifth of its busy time in GC. A collection that copies itself into a fresh table now
 * and then ends each chain: the copy is not linked from the old tables.
 *
 * The copy is made on an insert, once the deletes since the last copy reach twice the size (at least
 * RENEW_AFTER): amortised, less than one copied entry per delete. Iterators are those of the current
 * table: one in progress does not see what is added after a copy, so copy before adding while iterating.
 * No node:* import: the browser client uses it too.
 */

/** Deletes after which a collection may copy itself, at the least. */
export const RENEW_AFTER = 1024;

/** Whether a collection of `size` with `deletes` since its last copy copies itself now: the one rule of both. */
function due(deletes: number, size: number): boolean {
  return deletes >= RENEW_AFTER && deletes >= 2 * size;
}

export class RenewingMap<K, V> {
  #map = new Map<K, V>();
  #deletes = 0;

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  set(key: K, value: V): this {
    if (due(this.#deletes, this.#map.size)) {
      this.#map = new Map(this.#map);
      this.#deletes = 0;
    }
    this.#map.set(key, value);
    return this;
  }

  delete(key: K): boolean {
    if (!this.#map.delete(key)) return false;
    this.#deletes++;
    return true;
  }

  clear(): void {
    this.#map = new Map();
    this.#deletes = 0;
  }

  values(): MapIterator<V> {
    return this.#map.values();
  }

  keys(): MapIterator<K> {
    return this.#map.keys();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.#map[Symbol.iterator]();
  }
}

export class RenewingSet<T> {
  #set = new Set<T>();
  #deletes = 0;

  get size(): number {
    return this.#set.size;
  }

  has(item: T): boolean {
    return this.#set.has(item);
  }

  add(item: T): this {
    if (due(this.#deletes, this.#set.size)) {
      this.#set = new Set(this.#set);
      this.#deletes = 0;
    }
    this.#set.add(item);
    return this;
  }

  delete(item: T): boolean {
    if (!this.#set.delete(item)) return false;
    this.#deletes++;
    return true;
  }

  clear(): void {
    this.#set = new Set();
    this.#deletes = 0;
  }

  values(): SetIterator<T> {
    return this.#set.values();
  }

  [Symbol.iterator](): SetIterator<T> {
    return this.#set[Symbol.iterator]();
  }
}
