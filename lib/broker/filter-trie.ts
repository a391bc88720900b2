/**
 * The index of wildcard topic filters (protocol.md [SB-3-5], [SB-4.6-4]): a trie of segments, so that the
 * filters matching a published topic are found by walking the topic's segments, following at each level
 * the topic's own segment and `*`, never by scanning every filter. A walk visits only nodes whose path
 * matches the topic so far: at most the topic's depth times the branches actually present.
 *
 * `>` is stored as `*`: under the prefix rule a last `>` (one or more segments) matches exactly what a
 * last `*` (one segment, and everything below it) matches. Each node keeps the filters, as written, that
 * end there, so `news.*` and `news.>` share a node and keep their own spelling for `context`.
 *
 * Plain topics are not here: TopicTable finds them by their prefixes, as it always did.
 */
import { WILDCARD_ONE, WILDCARD_REST } from '../protocol/wire.js';

interface TrieNode {
  // Segments come off the wire: a Map, never a plain object (`__proto__` is a valid segment).
  readonly children: Map<string, TrieNode>;
  /** The filters, as written, that end at this node. */
  readonly filters: Set<string>;
}

function node(): TrieNode {
  return { children: new Map(), filters: new Set() };
}

/** True when `filter` has a `*` or `>` segment, so the trie indexes it rather than the plain map. */
export function hasWildcard(filter: string): boolean {
  return filter.includes(WILDCARD_ONE) || filter.includes(WILDCARD_REST);
}

function keyOf(segment: string): string {
  return segment === WILDCARD_REST ? WILDCARD_ONE : segment;
}

export class FilterTrie {
  readonly #root = node();
  #size = 0;

  /** The number of filters held. */
  get size(): number {
    return this.#size;
  }

  add(filter: string): void {
    let at = this.#root;
    for (const segment of filter.split('.')) {
      const key = keyOf(segment);
      let next = at.children.get(key);
      if (next === undefined) at.children.set(key, (next = node()));
      at = next;
    }
    if (at.filters.has(filter)) return;
    at.filters.add(filter);
    this.#size++;
  }

  /** Remove `filter`, and every node left with neither filters nor children: the trie holds no dead paths. */
  delete(filter: string): void {
    const path: TrieNode[] = [this.#root];
    const keys = filter.split('.').map(keyOf);
    for (const key of keys) {
      const next = path[path.length - 1].children.get(key);
      if (next === undefined) return;
      path.push(next);
    }
    if (!path[path.length - 1].filters.delete(filter)) return;
    this.#size--;
    for (let depth = keys.length; depth > 0; depth--) {
      const at = path[depth];
      if (at.filters.size > 0 || at.children.size > 0) break;
      path[depth - 1].children.delete(keys[depth - 1]);
    }
  }

  /** Push onto `found` every filter that the first segments of the topic `segments` match. */
  collect(segments: readonly string[], found: string[]): void {
    const stack: Array<[TrieNode, number]> = [[this.#root, 0]];
    while (stack.length > 0) {
      const [at, depth] = stack.pop()!;
      for (const filter of at.filters) found.push(filter);
      if (depth === segments.length) continue;
      const literal = at.children.get(segments[depth]);
      if (literal !== undefined) stack.push([literal, depth + 1]);
      const any = at.children.get(WILDCARD_ONE);
      if (any !== undefined) stack.push([any, depth + 1]);
    }
  }
}

function rank(segment: string): number {
  return segment === WILDCARD_ONE ? 1 : segment === WILDCARD_REST ? 2 : 0;
}

/**
 * [SB-4.6-5] The order of specificity of two filters that match the same topic, most specific first: more
 * segments first; then, at the first segment where they differ, a literal before `*` before `>`. Two
 * filters that match one topic and differ at a segment differ by a wildcard there, so this orders them
 * all; two different literals (which never match one topic) are ordered by code unit, so the order is
 * total. For plain topics it is the order of [SB-4.7-2] as before: the longer prefix first.
 */
export function bySpecificity(a: string, b: string): number {
  if (a === b) return 0;
  const as = a.split('.');
  const bs = b.split('.');
  if (as.length !== bs.length) return bs.length - as.length;
  for (let i = 0; i < as.length; i++) {
    if (as[i] === bs[i]) continue;
    const difference = rank(as[i]) - rank(bs[i]);
    if (difference !== 0) return difference;
    return as[i] < bs[i] ? -1 : 1;
  }
  return 0;
}
