/**
 * Templates, placeholders and partial matching of frames (spec/README.md, "Values in frames").
 *
 * Every string in a case first has its templates replaced (`{run}`: the run's unique prefix, `{i}`: the
 * repetition index). A string that then starts with `$` is a placeholder: `$name` is a value captured
 * earlier; in an expected frame also `$capture:name`, `$any`, `$absent`, `$string`, `$not:name`,
 * `$prefix:text`. `$$` starts a literal string that begins with `$`.
 * An expected object matches when each of its keys matches (other keys are allowed); arrays match
 * element by element, or in any order when written `{"$unordered": [...]}`.
 */
import { deepEqual, isObject, show, type Json } from './json.js';

export interface Vars {
  readonly run: string;
  readonly i: number;
}

export type Bindings = Map<string, Json>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KEYWORDS = new Set(['any', 'absent', 'string']);

type Placeholder =
  | { kind: 'literal'; value: string }
  | { kind: 'ref'; name: string }
  | { kind: 'capture'; name: string }
  | { kind: 'not'; name: string }
  | { kind: 'prefix'; text: string }
  | { kind: 'any' | 'absent' | 'string' }
  | { kind: 'invalid'; text: string };

export function template(text: string, vars: Vars): string {
  return text.replaceAll('{run}', vars.run).replaceAll('{i}', String(vars.i));
}

function placeholder(text: string): Placeholder {
  if (!text.startsWith('$')) return { kind: 'literal', value: text };
  if (text.startsWith('$$')) return { kind: 'literal', value: text.slice(1) };
  const body = text.slice(1);
  const colon = body.indexOf(':');
  const head = colon < 0 ? body : body.slice(0, colon);
  const rest = colon < 0 ? '' : body.slice(colon + 1);
  if (colon < 0 && KEYWORDS.has(body)) return { kind: body as 'any' };
  if (colon < 0 && NAME.test(body)) return { kind: 'ref', name: body };
  if ((head === 'capture' || head === 'not') && NAME.test(rest.replaceAll('{i}', '0'))) return { kind: head, name: rest };
  if (head === 'prefix') return { kind: 'prefix', text: rest };
  return { kind: 'invalid', text };
}

/** Load-time check of a value to send: only `$name` references and `$$` literals. */
export function checkSendable(value: unknown, prefix: string, problems: string[]): void {
  walkStrings(value, (text) => {
    const p = placeholder(text.replaceAll('{i}', '0'));
    if (p.kind !== 'literal' && p.kind !== 'ref') problems.push(`${prefix}placeholder ${JSON.stringify(text)} cannot be sent`);
  });
}

/** Load-time check of an expected frame: every placeholder must be one the matcher knows. */
export function checkExpected(value: unknown, prefix: string, problems: string[]): void {
  if (!isObject(value)) problems.push(`${prefix}an expected frame is an object`);
  walkStrings(value, (text) => {
    if (placeholder(text.replaceAll('{i}', '0')).kind === 'invalid') problems.push(`${prefix}unknown placeholder ${JSON.stringify(text)}`);
  });
}

function walkStrings(value: unknown, visit: (text: string) => void): void {
  if (typeof value === 'string') visit(value);
  else if (Array.isArray(value)) value.forEach((item) => walkStrings(item, visit));
  else if (isObject(value)) Object.values(value).forEach((item) => walkStrings(item, visit));
}

/** The value to send (or compare in an `assert` step): templates replaced, `$name` resolved. Throws when unbound. */
export function resolve(value: Json, vars: Vars, bindings: Bindings): Json {
  if (typeof value === 'string') {
    const p = placeholder(template(value, vars));
    if (p.kind === 'literal') return p.value;
    if (p.kind === 'ref') {
      const bound = bindings.get(p.name);
      if (bound === undefined) throw new Error(`"$${p.name}" is used before it was captured`);
      return bound;
    }
    throw new Error(`placeholder ${value} cannot be sent`);
  }
  if (Array.isArray(value)) return value.map((item) => resolve(item, vars, bindings));
  if (isObject(value)) {
    const out: Record<string, Json> = Object.create(null);
    for (const [key, item] of Object.entries(value)) out[key] = resolve(item, vars, bindings);
    return out;
  }
  return value;
}

/**
 * Match `actual` against `expected`. On success, new captures are added to `bindings` and undefined is
 * returned; on failure, `bindings` is unchanged and the first difference is described.
 */
export function match(expected: Json, actual: unknown, vars: Vars, bindings: Bindings): string | undefined {
  const scratch: Bindings = new Map(bindings);
  const problem = matchAt(expected, actual, '', vars, scratch);
  if (problem === undefined) for (const [key, value] of scratch) bindings.set(key, value);
  return problem;
}

function matchAt(expected: Json, actual: unknown, path: string, vars: Vars, bindings: Bindings): string | undefined {
  const where = path === '' ? 'frame' : path;
  if (typeof expected === 'string') return matchString(placeholder(template(expected, vars)), actual, where, vars, bindings);
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${where}: expected an array, got ${show(actual)}`;
    if (actual.length !== expected.length) return `${where}: expected ${expected.length} items, got ${actual.length}: ${show(actual)}`;
    for (let n = 0; n < expected.length; n++) {
      const problem = matchAt(expected[n], actual[n], `${path}/${n}`, vars, bindings);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (isObject(expected)) {
    if (Object.keys(expected).length === 1 && Array.isArray(expected.$unordered)) {
      return matchUnordered(expected.$unordered, actual, where, vars, bindings);
    }
    if (!isObject(actual)) return `${where}: expected an object, got ${show(actual)}`;
    for (const [key, value] of Object.entries(expected)) {
      const has = Object.prototype.hasOwnProperty.call(actual, key);
      if (value === '$absent') {
        if (has) return `${path}/${key}: expected no such field, got ${show(actual[key])}`;
        continue;
      }
      if (!has) return `${path}/${key}: missing, expected ${template(JSON.stringify(value), vars)}`;
      const problem = matchAt(value, actual[key], `${path}/${key}`, vars, bindings);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  return actual === expected ? undefined : `${where}: expected ${show(expected)}, got ${show(actual)}`;
}

function matchString(p: Placeholder, actual: unknown, where: string, vars: Vars, bindings: Bindings): string | undefined {
  switch (p.kind) {
    case 'literal':
      return actual === p.value ? undefined : `${where}: expected ${show(p.value)}, got ${show(actual)}`;
    case 'any':
      return undefined;
    case 'absent':
      return `${where}: expected nothing here, got ${show(actual)}`;
    case 'string':
      return typeof actual === 'string' ? undefined : `${where}: expected a string, got ${show(actual)}`;
    case 'prefix':
      return typeof actual === 'string' && actual.startsWith(p.text)
        ? undefined
        : `${where}: expected a string starting with ${show(p.text)}, got ${show(actual)}`;
    case 'capture': {
      const name = template(p.name, vars);
      if (bindings.has(name)) return `${where}: "$capture:${name}" captures a name already bound`;
      bindings.set(name, actual as Json);
      return undefined;
    }
    case 'ref':
    case 'not': {
      const name = template(p.name, vars);
      if (!bindings.has(name)) return `${where}: "$${name}" is used before it was captured`;
      const same = deepEqual(bindings.get(name), actual);
      if (p.kind === 'ref' && !same) return `${where}: expected $${name} = ${show(bindings.get(name))}, got ${show(actual)}`;
      if (p.kind === 'not' && same) return `${where}: expected anything but $${name} = ${show(actual)}`;
      return undefined;
    }
    case 'invalid':
      return `${where}: unknown placeholder ${p.text}`;
  }
}

/** Same length, and some order of `actual` matches `expected` item by item (small arrays: plain backtracking). */
function matchUnordered(expected: Json[], actual: unknown, where: string, vars: Vars, bindings: Bindings): string | undefined {
  if (!Array.isArray(actual) || actual.length !== expected.length) {
    return `${where}: expected ${expected.length} items in any order, got ${show(actual)}`;
  }
  const found = assign(expected, actual, vars, bindings);
  if (found === undefined) return `${where}: expected ${template(JSON.stringify(expected), vars)} in any order, got ${show(actual)}`;
  for (const [key, value] of found) bindings.set(key, value);
  return undefined;
}

/** A matching of every expected item to a distinct actual item; returns the bindings it needs. */
export function assign(expected: readonly Json[], actual: readonly unknown[], vars: Vars, bindings: Bindings): Bindings | undefined {
  const used = new Set<number>();
  const step = (n: number, bound: Bindings): Bindings | undefined => {
    if (n === expected.length) return bound;
    for (let k = 0; k < actual.length; k++) {
      if (used.has(k)) continue;
      const scratch: Bindings = new Map(bound);
      if (matchAt(expected[n], actual[k], '', vars, scratch) !== undefined) continue;
      used.add(k);
      const done = step(n + 1, scratch);
      if (done !== undefined) return done;
      used.delete(k);
    }
    return undefined;
  };
  return step(0, new Map(bindings));
}
