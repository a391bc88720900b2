/**
 * The conformance case format (spec/README.md, "Writing cases"): the types of a parsed case and the
 * one function that reads a case file, checks its shape and reports every problem at once.
 *
 * The conformance runner judges a broker from the wire only: nothing in lib/conformance imports the
 * rest of lib/ (a test keeps it so). Case files are plain JSON so that any language can run them.
 */
import { isObject, type Json } from './json.js';
import { checkExpected, checkSendable } from './match.js';

export type { Json };

export interface PeerSpec {
  /** Offers the subprotocol `switchboard.v1` (extended dialect); otherwise offers none (legacy). */
  readonly extended: boolean;
  /** Connected before the first step; false: only by a `connect` step. */
  readonly connect: boolean;
  /** Answers the broker's pings (what every WebSocket library does by default); false: stays mute. */
  readonly autoPong: boolean;
}

/** A piece of raw text to send: a literal, or one string repeated (for large or deeply nested frames). */
export type TextPart = string | { readonly repeat: string; readonly times: number };

export type Payload =
  | { readonly frame: Json }
  | { readonly text: readonly TextPart[] }
  | { readonly binary: string };

export type Step =
  | { readonly kind: 'connect'; readonly peer: string; readonly within: number }
  | { readonly kind: 'disconnect'; readonly peer: string; readonly within: number }
  | { readonly kind: 'pause' | 'resume'; readonly peer: string }
  | { readonly kind: 'send'; readonly peer: string; readonly payload: Payload; readonly repeat: number }
  | {
      readonly kind: 'expect';
      readonly peer: string;
      readonly frames: readonly Json[];
      readonly unordered: boolean;
      readonly repeat: number;
      readonly within: number;
      readonly notBefore: number;
    }
  | { readonly kind: 'expectNothing'; readonly peer: string; readonly forMs: number }
  | {
      readonly kind: 'expectClose';
      readonly peer: string;
      /** The accepted close codes; empty: any. */
      readonly codes: readonly number[];
      readonly reason?: string;
      readonly within: number;
      readonly skipFrames: boolean;
    }
  | {
      readonly kind: 'handshake';
      readonly path?: string;
      readonly protocols: readonly string[];
      readonly origin?: string;
      readonly status: number;
      /** The subprotocol the answer must select; null: none; undefined: not checked. */
      readonly protocol?: string | null;
      readonly within: number;
    }
  | { readonly kind: 'assert'; readonly check: 'distinct' | 'minLength'; readonly values: readonly Json[]; readonly min: number };

export interface Case {
  /** `<profile>/<file name without .json>`. */
  readonly id: string;
  readonly description: string;
  readonly rules: readonly string[];
  readonly skip?: string;
  /** Broker settings the case needs (protocol.md names, e.g. `heartbeatMs`); it runs only against such a broker. */
  readonly requires: Readonly<Record<string, Json>>;
  readonly peers: ReadonlyMap<string, PeerSpec>;
  readonly steps: readonly Step[];
}

export const DEFAULT_WITHIN_MS = 2000;
const RULE_ID = /^SB-\d+(\.\d+)?-\d+$/;
const LABEL = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** The keys each step verb allows, besides the verb itself. */
const STEP_KEYS: Record<Step['kind'], readonly string[]> = {
  connect: ['within'],
  disconnect: ['within'],
  pause: [],
  resume: [],
  send: ['frame', 'text', 'binary', 'repeat'],
  expect: ['frame', 'frames', 'unordered', 'repeat', 'within', 'notBefore'],
  expectNothing: ['for'],
  expectClose: ['code', 'reason', 'within', 'skipFrames'],
  handshake: ['status', 'protocol', 'within'],
  assert: ['values', 'min'],
};

export class CaseFormatError extends Error {
  constructor(
    readonly id: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid case ${id}: ${problems.join('; ')}`);
  }
}

/** Parse one case file's text. Throws CaseFormatError listing every problem found. */
export function parseCase(id: string, text: string): Case {
  const problems: string[] = [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new CaseFormatError(id, [`not JSON: ${(error as Error).message}`]);
  }
  if (!isObject(raw)) throw new CaseFormatError(id, ['a case is a JSON object']);
  unknownKeys(raw, ['description', 'rules', 'skip', 'requires', 'peers', 'steps'], '', problems);
  if (typeof raw.description !== 'string' || raw.description === '') problems.push('"description" must be a non-empty string');
  const rules = Array.isArray(raw.rules) ? raw.rules : [];
  if (rules.length === 0) problems.push('"rules" must list at least one rule id');
  for (const rule of rules) if (typeof rule !== 'string' || !RULE_ID.test(rule)) problems.push(`bad rule id ${JSON.stringify(rule)}`);
  if (raw.skip !== undefined && (typeof raw.skip !== 'string' || raw.skip === '')) problems.push('"skip" must be a reason');
  if (raw.requires !== undefined && !isObject(raw.requires)) problems.push('"requires" must be an object of setting -> value');
  const peers = parsePeers(raw.peers, problems);
  const steps = Array.isArray(raw.steps) ? raw.steps.map((step, n) => parseStep(step, `step ${n + 1}`, peers, problems)) : [];
  if (!Array.isArray(raw.steps)) problems.push('"steps" must be an array');
  if (problems.length > 0) throw new CaseFormatError(id, problems);
  return {
    id,
    description: raw.description as string,
    rules: rules as string[],
    skip: raw.skip as string | undefined,
    requires: (raw.requires ?? {}) as Record<string, Json>,
    peers,
    steps: steps as Step[],
  };
}

function parsePeers(value: unknown, problems: string[]): Map<string, PeerSpec> {
  const peers = new Map<string, PeerSpec>();
  if (!isObject(value)) {
    problems.push('"peers" must be an object of label -> peer');
    return peers;
  }
  for (const [label, spec] of Object.entries(value)) {
    if (!LABEL.test(label)) problems.push(`peer label ${JSON.stringify(label)} must match ${LABEL.source}`);
    if (!isObject(spec) || typeof spec.extended !== 'boolean') {
      problems.push(`peer ${label}: needs "extended": true or false`);
      continue;
    }
    unknownKeys(spec, ['extended', 'connect', 'autoPong'], `peer ${label}: `, problems);
    for (const key of ['connect', 'autoPong']) {
      if (spec[key] !== undefined && typeof spec[key] !== 'boolean') problems.push(`peer ${label}: "${key}" must be a boolean`);
    }
    peers.set(label, { extended: spec.extended, connect: spec.connect !== false, autoPong: spec.autoPong !== false });
  }
  return peers;
}

function parseStep(value: unknown, where: string, peers: Map<string, PeerSpec>, problems: string[]): Step | undefined {
  if (!isObject(value)) {
    problems.push(`${where}: a step is an object`);
    return undefined;
  }
  const verbs = (Object.keys(STEP_KEYS) as Step['kind'][]).filter((verb) => verb in value);
  if (verbs.length !== 1) {
    problems.push(`${where}: needs exactly one verb of ${Object.keys(STEP_KEYS).join(', ')}`);
    return undefined;
  }
  const kind = verbs[0];
  const at = `${where} (${kind})`;
  unknownKeys(value, [kind, ...STEP_KEYS[kind]], `${at}: `, problems);
  const num = (key: string, fallback: number | undefined, min = 0): number => {
    const v = value[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) problems.push(`${at}: "${key}" must be an integer >= ${min}`);
    return typeof v === 'number' ? v : (fallback ?? 0);
  };
  const bool = (key: string): boolean => {
    if (value[key] !== undefined && typeof value[key] !== 'boolean') problems.push(`${at}: "${key}" must be a boolean`);
    return value[key] === true;
  };
  const within = () => num('within', DEFAULT_WITHIN_MS, 1);
  if (kind === 'handshake') return parseHandshake(value, at, within(), num('status', undefined, 100), problems);
  if (kind === 'assert') return parseAssert(value, at, problems);
  const peer = value[kind];
  if (typeof peer !== 'string' || !peers.has(peer)) {
    problems.push(`${at}: names no declared peer (${JSON.stringify(peer)})`);
  }
  const label = String(peer);
  switch (kind) {
    case 'connect':
    case 'disconnect':
      return { kind, peer: label, within: within() };
    case 'pause':
    case 'resume':
      return { kind, peer: label };
    case 'send':
      return { kind, peer: label, payload: parsePayload(value, at, problems), repeat: num('repeat', 1, 1) };
    case 'expect': {
      const frames = value.frames !== undefined ? value.frames : value.frame !== undefined ? [value.frame] : undefined;
      if (!Array.isArray(frames) || frames.length === 0 || (value.frames !== undefined && value.frame !== undefined)) {
        problems.push(`${at}: needs "frame" or a non-empty "frames" array, not both`);
      }
      for (const frame of Array.isArray(frames) ? frames : []) checkExpected(frame, `${at}: `, problems);
      return {
        kind,
        peer: label,
        frames: (frames ?? []) as Json[],
        unordered: bool('unordered'),
        repeat: num('repeat', 1, 1),
        within: within(),
        notBefore: num('notBefore', 0),
      };
    }
    case 'expectNothing':
      return { kind, peer: label, forMs: num('for', undefined, 1) };
    case 'expectClose': {
      if (value.reason !== undefined && typeof value.reason !== 'string') problems.push(`${at}: "reason" must be a string`);
      const codes = value.code === undefined ? [] : Array.isArray(value.code) ? value.code : [value.code];
      if (!codes.every((code) => Number.isInteger(code) && code >= 1000 && code <= 4999)) {
        problems.push(`${at}: "code" must be a close code or an array of close codes`);
      }
      return { kind, peer: label, codes, reason: value.reason as string | undefined, within: within(), skipFrames: bool('skipFrames') };
    }
  }
}

function parsePayload(value: Record<string, unknown>, at: string, problems: string[]): Payload {
  const given = ['frame', 'text', 'binary'].filter((key) => value[key] !== undefined);
  if (given.length !== 1) problems.push(`${at}: needs exactly one of "frame", "text", "binary"`);
  if (value.frame !== undefined) {
    checkSendable(value.frame, `${at}: `, problems);
    return { frame: value.frame as Json };
  }
  if (value.binary !== undefined) {
    if (typeof value.binary !== 'string' || !/^([0-9a-f]{2})*$/i.test(value.binary)) problems.push(`${at}: "binary" must be hex`);
    return { binary: String(value.binary) };
  }
  const parts = typeof value.text === 'string' ? [value.text] : value.text;
  const ok =
    Array.isArray(parts) &&
    parts.every(
      (part) =>
        typeof part === 'string' ||
        (isObject(part) && typeof part.repeat === 'string' && Number.isInteger(part.times) && (part.times as number) >= 0),
    );
  if (!ok) problems.push(`${at}: "text" must be a string or an array of strings and {"repeat": string, "times": n}`);
  return { text: (ok ? parts : []) as TextPart[] };
}

function parseHandshake(value: Record<string, unknown>, at: string, within: number, status: number, problems: string[]): Step {
  const spec = value.handshake;
  if (!isObject(spec)) {
    problems.push(`${at}: "handshake" must be an object {"path"?, "protocols"?}`);
    return { kind: 'handshake', protocols: [], status, within };
  }
  unknownKeys(spec, ['path', 'protocols', 'origin'], `${at}: `, problems);
  if (spec.origin !== undefined && typeof spec.origin !== 'string') problems.push(`${at}: "origin" must be a string`);
  if (spec.path !== undefined && (typeof spec.path !== 'string' || !spec.path.startsWith('/'))) problems.push(`${at}: "path" must start with /`);
  const protocols = spec.protocols ?? [];
  if (!Array.isArray(protocols) || !protocols.every((p) => typeof p === 'string')) problems.push(`${at}: "protocols" must be strings`);
  const protocol = value.protocol;
  if (protocol !== undefined && protocol !== null && typeof protocol !== 'string') problems.push(`${at}: "protocol" must be a string or null`);
  return {
    kind: 'handshake',
    path: spec.path as string | undefined,
    protocols: protocols as string[],
    origin: spec.origin as string | undefined,
    status,
    protocol: protocol as string | null | undefined,
    within,
  };
}

function parseAssert(value: Record<string, unknown>, at: string, problems: string[]): Step {
  const check = value.assert;
  if (check !== 'distinct' && check !== 'minLength') problems.push(`${at}: "assert" is "distinct" or "minLength"`);
  const values = value.values;
  if (!Array.isArray(values) || values.length === 0) problems.push(`${at}: "values" must be a non-empty array`);
  for (const v of Array.isArray(values) ? values : []) checkSendable(v, `${at}: `, problems);
  const min = value.min ?? 0;
  if (check === 'minLength' && (typeof min !== 'number' || !Number.isInteger(min) || min < 1)) problems.push(`${at}: "min" must be an integer >= 1`);
  return { kind: 'assert', check: check as 'distinct', values: (values ?? []) as Json[], min: Number(min) };
}

function unknownKeys(value: Record<string, unknown>, allowed: readonly string[], prefix: string, problems: string[]): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) problems.push(`${prefix}unknown key "${key}"`);
}
