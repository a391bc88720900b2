/**
 * Runs one case against a broker URL: connects its peers, executes its steps in order (each wait with a
 * deadline), checks that no peer was left with a frame or a close that no step expected, and closes
 * every connection it opened. The result carries the transcript either way.
 */
import type { Case, Payload, Step } from './case.js';
import { handshake } from './handshake.js';
import { deepEqual, show, type Json } from './json.js';
import { assign, match, resolve, template, type Bindings, type Vars } from './match.js';
import { Peer } from './peer.js';
import { Transcript } from './transcript.js';

export interface CaseResult {
  readonly id: string;
  readonly rules: readonly string[];
  readonly status: 'pass' | 'fail' | 'skip';
  /** Why the case failed or was skipped. */
  readonly reason?: string;
  readonly transcript: readonly string[];
  /** The value of `{run}` in this case, to reproduce it by hand. */
  readonly run: string;
}

class StepFailure extends Error {}

function fail(message: string): never {
  throw new StepFailure(message);
}

/**
 * Run one case. `settings` are the broker's settings that differ from protocol.md's defaults (by their
 * protocol.md names). A case assumes the defaults except for what it `requires`, so it runs only when
 * its `requires` are exactly these settings; otherwise it is skipped, naming what it needs.
 *
 * With several URLs (the nodes of one cluster, protocol.md section 16), the case's peers are spread over
 * them: the i-th peer the case declares connects to `urls[i % urls.length]`, so that peers that talk to
 * each other are on different nodes; handshake steps go to the first URL.
 */
export async function runCase(
  c: Case,
  url: string | readonly string[],
  run: string,
  settings: Readonly<Record<string, Json>> = {},
): Promise<CaseResult> {
  const urls = typeof url === 'string' ? [url] : url;
  const base = { id: c.id, rules: c.rules, run };
  if (c.skip !== undefined) return { ...base, status: 'skip', reason: c.skip, transcript: [] };
  if (!deepEqual(c.requires, settings)) {
    const needs = Object.keys(c.requires).length === 0 ? "protocol.md's default settings" : JSON.stringify(c.requires);
    return { ...base, status: 'skip', reason: `needs a broker with ${needs}`, transcript: [] };
  }
  const transcript = new Transcript();
  const peers = new Map([...c.peers].map(([label, spec]) => [label, new Peer(label, spec, transcript)]));
  const urlOf = new Map([...c.peers.keys()].map((label, i) => [label, urls[i % urls.length]]));
  if (urls.length > 1) for (const [label, at] of urlOf) transcript.add('runner', '  ', `peer ${label} connects to ${at}`);
  const state: State = { url: urls[0], urlOf, run, transcript, peers, bindings: new Map(), lastSendAt: 0 };
  let reason: string | undefined;
  let at = 'connecting the peers';
  try {
    for (const peer of peers.values()) if (peer.spec.connect) await connect(peer, urlOf.get(peer.label) as string, 2000);
    for (const [n, step] of c.steps.entries()) {
      at = `step ${n + 1} of ${c.steps.length} (${describeStep(step)})`;
      await execute(step, state);
    }
    at = 'the end of the case';
    leftovers(peers);
  } catch (error) {
    reason = `${at}: ${error instanceof StepFailure ? error.message : String(error)}`;
    transcript.add('runner', '  ', `FAILED: ${at}`);
  } finally {
    await Promise.all([...peers.values()].map((peer) => peer.disconnect(1000)));
  }
  return { ...base, status: reason === undefined ? 'pass' : 'fail', reason, transcript: transcript.format() };
}

interface State {
  /** The first URL: handshake steps go there. */
  readonly url: string;
  /** The URL each peer connects to. */
  readonly urlOf: ReadonlyMap<string, string>;
  readonly run: string;
  readonly transcript: Transcript;
  readonly peers: ReadonlyMap<string, Peer>;
  readonly bindings: Bindings;
  /** Transcript time of the latest frame any peer sent: `notBefore` counts from it. */
  lastSendAt: number;
}

async function execute(step: Step, state: State): Promise<void> {
  const peer = 'peer' in step ? (state.peers.get(step.peer) as Peer) : undefined;
  switch (step.kind) {
    case 'connect':
      return connect(peer as Peer, state.urlOf.get((peer as Peer).label) as string, step.within);
    case 'disconnect':
      return (peer as Peer).disconnect(step.within);
    case 'pause':
    case 'resume':
      try {
        return (peer as Peer).pause(step.kind === 'pause');
      } catch (error) {
        fail((error as Error).message);
      }
    case 'send':
      for (let i = 0; i < step.repeat; i++) {
        (peer as Peer).send(payload(step.payload, { run: state.run, i }, state.bindings));
        state.lastSendAt = state.transcript.now();
      }
      return;
    case 'expect':
      return expectFrames(peer as Peer, step, state);
    case 'expectNothing':
      return expectNothing(peer as Peer, step.forMs, state);
    case 'expectClose':
      return expectClose(peer as Peer, step, state);
    case 'handshake':
      return checkHandshake(step, state);
    case 'assert':
      return check(step, state);
  }
}

async function connect(peer: Peer, url: string, within: number): Promise<void> {
  try {
    await peer.connect(url, within);
  } catch (error) {
    fail(`peer ${peer.label} could not connect: ${(error as Error).message}`);
  }
}

function payload(spec: Payload, vars: Vars, bindings: Bindings): string | Buffer {
  if ('frame' in spec) return JSON.stringify(resolve(spec.frame, vars, bindings));
  if ('binary' in spec) return Buffer.from(spec.binary, 'hex');
  return spec.text.map((part) => (typeof part === 'string' ? template(part, vars) : part.repeat.repeat(part.times))).join('');
}

async function expectFrames(peer: Peer, step: Extract<Step, { kind: 'expect' }>, state: State): Promise<void> {
  const deadline = state.transcript.now() + step.within;
  const sentAt = state.lastSendAt;
  for (let i = 0; i < step.repeat; i++) {
    const vars = { run: state.run, i };
    const received = [];
    for (const expected of step.frames) {
      const frame = await peer.next(deadline);
      if (frame === undefined) {
        const wanted = step.frames.slice(received.length).map((f) => showExpected(f, vars)).join(', ');
        fail(`${peer.label} ${why(peer, step.within)}; expected ${wanted}`);
      }
      if (frame.at - sentAt < step.notBefore) {
        fail(`${peer.label} received ${show(frame.text)} ${(frame.at - sentAt).toFixed(1)} ms after the last send; expected not before ${step.notBefore} ms`);
      }
      received.push(frame);
      if (step.unordered) continue;
      const problem = match(expected, frame.value, vars, state.bindings);
      if (problem !== undefined) fail(`${peer.label} received ${frame.text}\n  expected ${showExpected(expected, vars)}\n  ${problem}`);
    }
    if (step.unordered) {
      const found = assign(step.frames, received.map((frame) => frame.value), vars, state.bindings);
      if (found === undefined) {
        fail(`${peer.label} received ${received.map((f) => f.text).join(', ')}\n  expected in any order ${step.frames.map((f) => showExpected(f, vars)).join(', ')}`);
      }
      for (const [key, value] of found) state.bindings.set(key, value);
    }
  }
}

function showExpected(frame: Json, vars: Vars): string {
  return template(JSON.stringify(frame), vars);
}

function why(peer: Peer, within: number): string {
  if (peer.closed === undefined) return `received nothing within ${within} ms`;
  return `was closed (${peer.closed.code} ${JSON.stringify(peer.closed.reason)}) before the frame arrived`;
}

async function expectNothing(peer: Peer, forMs: number, state: State): Promise<void> {
  const deadline = state.transcript.now() + forMs;
  for (;;) {
    const frame = peer.inbox.shift();
    if (frame !== undefined) fail(`${peer.label} received ${frame.text} where nothing was expected`);
    if (peer.closed !== undefined && !peer.closeExpected) {
      fail(`${peer.label} was closed (${peer.closed.code} ${JSON.stringify(peer.closed.reason)}) where nothing was expected`);
    }
    if (state.transcript.now() >= deadline) return;
    await peer.changed(deadline);
  }
}

async function expectClose(peer: Peer, step: Extract<Step, { kind: 'expectClose' }>, state: State): Promise<void> {
  const deadline = state.transcript.now() + step.within;
  for (;;) {
    const frame = peer.inbox.shift();
    if (frame !== undefined && !step.skipFrames) fail(`${peer.label} received ${frame.text} where a close was expected`);
    if (frame !== undefined) continue;
    if (peer.closed !== undefined) break;
    if (state.transcript.now() >= deadline) fail(`${peer.label} was not closed within ${step.within} ms`);
    await peer.changed(deadline);
  }
  const { code, reason } = peer.closed;
  peer.closeExpected = true;
  if (step.codes.length > 0 && !step.codes.includes(code)) fail(`${peer.label} was closed with code ${code}, expected ${step.codes.join(' or ')}`);
  const wanted = step.reason === undefined ? undefined : template(step.reason, { run: state.run, i: 0 });
  if (wanted !== undefined && reason !== wanted) {
    fail(`${peer.label} was closed with reason ${JSON.stringify(reason)}, expected ${JSON.stringify(wanted)}`);
  }
}

async function checkHandshake(step: Extract<Step, { kind: 'handshake' }>, state: State): Promise<void> {
  const path = step.path === undefined ? undefined : template(step.path, { run: state.run, i: 0 });
  const offered = step.protocols.length === 0 ? 'no subprotocol' : step.protocols.join(', ');
  const origin = step.origin === undefined ? '' : `, Origin ${step.origin}`;
  state.transcript.add('handshake', '->', `GET ${path ?? new URL(state.url).pathname} upgrade, offering ${offered}${origin}`);
  let result;
  try {
    result = await handshake(state.url, { path, protocols: step.protocols, origin: step.origin }, step.within);
  } catch (error) {
    state.transcript.add('handshake', '<-', `error: ${(error as Error).message}`);
    fail(`the handshake failed: ${(error as Error).message}`);
  }
  const selected = result.protocol === null ? 'no subprotocol' : `subprotocol ${JSON.stringify(result.protocol)}`;
  state.transcript.add('handshake', '<-', `HTTP ${result.status}, ${selected}`);
  if (result.status !== step.status) fail(`the handshake was answered with HTTP ${result.status}, expected ${step.status}`);
  if (step.protocol !== undefined && result.protocol !== step.protocol) {
    fail(`the handshake selected ${selected}, expected ${step.protocol === null ? 'none' : JSON.stringify(step.protocol)}`);
  }
}

function check(step: Extract<Step, { kind: 'assert' }>, state: State): void {
  const values = step.values.map((value) => resolve(value, { run: state.run, i: 0 }, state.bindings));
  state.transcript.add('runner', '  ', `assert ${step.check} ${show(values)}`);
  if (step.check === 'minLength') {
    for (const value of values) {
      if (typeof value !== 'string' || value.length < step.min) fail(`${show(value)} is not a string of at least ${step.min} characters`);
    }
    return;
  }
  for (let a = 0; a < values.length; a++) {
    for (let b = a + 1; b < values.length; b++) {
      if (deepEqual(values[a], values[b])) fail(`values ${a + 1} and ${b + 1} are equal: ${show(values[a])}`);
    }
  }
}

function leftovers(peers: ReadonlyMap<string, Peer>): void {
  for (const peer of peers.values()) {
    if (peer.inbox.length > 0) fail(`${peer.label} received frames no step expected: ${peer.inbox.map((f) => f.text).join(', ')}`);
    if (peer.closed !== undefined && !peer.closeExpected) {
      fail(`${peer.label} was closed (${peer.closed.code} ${JSON.stringify(peer.closed.reason)}) and no step expected it`);
    }
  }
}

function describeStep(step: Step): string {
  if (step.kind === 'handshake' || step.kind === 'assert') return step.kind;
  return `${step.kind} ${step.peer}`;
}
