/**
 * Model-based tests with fast-check (robustness.md, "Tools that work here"): random sequences of client
 * commands run against the live broker over ws and against a model written from protocol.md
 * (test/fixtures/broker-model.ts); after every command the frames and the broker's counts must agree.
 * A second property fires the clients' commands concurrently, in random interleavings, and checks what
 * must hold whatever the order.
 *
 * Reproduce a failure with the seed and path fast-check prints: SB_MODEL_SEED=<seed> SB_MODEL_PATH=<path>.
 * Search longer with SB_MODEL_RUNS=<n> (default 300 and 40 runs: 10-20 s on two cores).
 */
import t from 'tap';
import fc from 'fast-check';
import WebSocket from 'ws';
import { Broker, type BrokerOptions } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD } from '../fixtures/broker.js';
import type { ModelLimits } from '../fixtures/broker-model.js';
import { ModelRun, type Command } from '../fixtures/model-runner.js';
import type { Frame } from '../fixtures/peer.js';

const LIMITS: ModelLimits = { maxNamesPerConnection: 2, maxDestinations: 3, maxPendingPerConnection: 2, maxPendingTotal: 4 };
const BROKER_LIMITS = { ...LIMITS, badFrameBudget: 10_000, defaultTimeoutMs: 60_000 };
const NAMES = ['a', 'b', '__proto__', 'constructor'];

/** fast-check options: the run count, a time limit for the default runs (shrinking included), a seed to replay. */
const checkOptions = (defaultRuns: number) => {
  const options: { numRuns: number; seed?: number; path?: string; interruptAfterTimeLimit?: number; markInterruptAsFailure?: boolean } = {
    numRuns: Number(process.env.SB_MODEL_RUNS ?? defaultRuns),
  };
  if (process.env.SB_MODEL_RUNS === undefined) Object.assign(options, { interruptAfterTimeLimit: 120_000, markInterruptAsFailure: true });
  if (process.env.SB_MODEL_SEED !== undefined) options.seed = Number(process.env.SB_MODEL_SEED);
  if (process.env.SB_MODEL_PATH !== undefined) options.path = process.env.SB_MODEL_PATH;
  return options;
};

/**
 * Each run gets a broker of its own, so that a run that leaves the broker in a bad state cannot make
 * later runs fail and fast-check can shrink to the commands that caused it. Every run ends with the
 * broker holding nothing; `last` keeps what the last one held for the test's final assertion.
 */
async function withBroker<T>(options: BrokerOptions, body: (broker: Broker, url: string) => Promise<T>): Promise<T> {
  const broker = new Broker({ host: '127.0.0.1', port: 0, ...options });
  const { url } = await broker.listen();
  try {
    const result = await body(broker, url);
    const held = await drained(broker);
    last = held;
    if (JSON.stringify(held) !== JSON.stringify(NOTHING_HELD)) throw new Error(`after the run the broker still holds ${JSON.stringify(held)}`);
    return result;
  } finally {
    await broker.close();
  }
}
let last: unknown;

const client = fc.integer({ min: 0, max: 3 });
const name = fc.constantFrom(...NAMES);
const dest = fc.oneof(name, fc.array(name, { minLength: 1, maxLength: 4 }));
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('register' as const), c: client, name }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unregister' as const), c: client, name: fc.option(name, { nil: undefined }) }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('send' as const), c: client, dest, ack: fc.option(fc.constantFrom('r1', 'r2', '__proto__'), { nil: undefined }), ref: fc.boolean() }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('answer' as const),
      c: client,
      source: fc.constantFrom('mine' as const, 'mine' as const, 'mine' as const, 'other' as const, 'cancelled' as const, 'stale' as const, 'guess' as const),
      pick: fc.nat(),
      error: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), c: client, ack: fc.constantFrom('r1', 'r2', '__proto__') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('disconnect' as const), c: client, abrupt: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deadline' as const), c: client, dest: fc.array(name, { minLength: 1, maxLength: 2 }) }) },
);

t.test('the live broker agrees with the protocol model over random command sequences [SB-3-2] [SB-4.1-1] [SB-4.2-2] [SB-4.3-2] [SB-4.4-2] [SB-6-5] [SB-6-7] [SB-6-9] [SB-6-11] [SB-6-12] [SB-6.1-1] [SB-6.1-2]', async (t) => {
  let runs = 0;
  let steps = 0;
  const property = fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40, size: 'max' }), (commands) =>
    withBroker({ limits: BROKER_LIMITS }, async (broker, url) => {
      runs++;
      // three extended clients and one legacy client (index 3)
      const run = await ModelRun.start(broker, url, LIMITS, ['extended', 'extended', 'extended', 'legacy']);
      try {
        for (const c of commands) {
          await run.step(c);
          steps++;
        }
      } finally {
        await run.close();
      }
    }),
  );
  const result = await fc.check(property, checkOptions(300));
  t.comment(`seed ${result.seed}: ${runs} runs, ${steps} commands`);
  if (result.failed) t.fail(`${fc.defaultReportMessage(result) ?? 'model divergence'}\n${String(result.errorInstance)}`);
  else t.pass(`${result.numRuns} random command sequences agreed with the model`);
  t.same(last, NOTHING_HELD, 'the last run\'s broker held nothing at its end');
});

/** A client's script for the concurrent property: its steps, and how it treats requests it receives. */
interface Script {
  steps: Array<
    | { kind: 'register' | 'unregister'; name: string }
    | { kind: 'request'; dest: string[]; timeout: number; ref: boolean }
    | { kind: 'pause'; ticks: number }
  >;
  /** What this client does with a request: answer now, answer with an error, answer late, answer twice, or never. */
  policy: Array<'answer' | 'error' | 'late' | 'twice' | 'ignore'>;
}

const script: fc.Arbitrary<Script> = fc.record({
  steps: fc.array(
    fc.oneof(
      { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('register' as const, 'unregister' as const), name }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('request' as const), dest: fc.array(name, { minLength: 1, maxLength: 3 }), timeout: fc.integer({ min: 5, max: 80 }), ref: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), ticks: fc.integer({ min: 0, max: 3 }) }) },
    ),
    { maxLength: 12 },
  ),
  policy: fc.array(fc.constantFrom('answer' as const, 'error' as const, 'late' as const, 'twice' as const, 'ignore' as const), { minLength: 1, maxLength: 4 }),
});

interface Seen {
  frames: Frame[];
}

/** Run four scripts at once on four extended connections; return what each connection received. */
async function runConcurrently(broker: Broker, url: string, scripts: Script[]): Promise<Seen[]> {
  const sockets = await Promise.all(
    scripts.map(
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url, ['switchboard.v1']);
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        }),
    ),
  );
  const seen: Seen[] = scripts.map(() => ({ frames: [] }));
  const timers = new Set<NodeJS.Timeout>();
  sockets.forEach((ws, i) => {
    let handled = 0;
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      seen[i].frames.push(frame);
      if (frame.action !== 'message' || typeof frame.ack !== 'string') return;
      const policy = scripts[i].policy[handled++ % scripts[i].policy.length];
      const answer = { action: 'answer', ack: frame.ack, message: { echo: frame.message, by: i } };
      if (policy === 'answer' || policy === 'twice') ws.send(JSON.stringify(answer));
      if (policy === 'twice') ws.send(JSON.stringify(answer));
      if (policy === 'error') ws.send(JSON.stringify({ action: 'answer', ack: frame.ack, error: { code: 'no', message: String(i) } }));
      if (policy === 'late') {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(answer));
        }, 30);
        timers.add(timer);
      }
    });
  });
  await Promise.all(
    scripts.map(async (s, i) => {
      let n = 0;
      for (const step of s.steps) {
        if (step.kind === 'pause') {
          for (let k = 0; k < step.ticks; k++) await new Promise((resolve) => setImmediate(resolve));
        } else if (step.kind === 'request') {
          const ack = `q${n++}`; // the same acks from every client: [SB-6-1]
          const frame: Frame = { action: 'send', dest: step.dest, message: { from: i, ack }, ack, timeout: step.timeout };
          if (step.ref) frame.ref = ack;
          sockets[i].send(JSON.stringify(frame));
        } else {
          sockets[i].send(JSON.stringify({ action: step.kind, id: step.name }));
        }
      }
    }),
  );
  // every request ends by its deadline (at most 80 ms); wait until all of them have, and late answers have gone
  const requests = scripts.map((s) => s.steps.filter((x) => x.kind === 'request').length);
  const deadline = Date.now() + 3000;
  const ended = (i: number) => new Set(seen[i].frames.filter((f) => f.action === 'answer' || (f.action === 'error' && typeof f.ack === 'string')).map((f) => f.ack)).size;
  while (scripts.some((_, i) => ended(i) < requests[i]) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const timer of timers) clearTimeout(timer);
  await drained(broker, 3000, { connections: 4, names: broker.stats().names, pending: 0, deliveries: 0 });
  const stillHeld = broker.stats();
  if (stillHeld.pending !== 0 || stillHeld.deliveries !== 0) {
    throw new Error(`with every deadline passed the broker still holds ${stillHeld.pending} requests and ${stillHeld.deliveries} delivery ids`);
  }
  await Promise.all(sockets.map((ws) => new Promise((resolve) => (ws.once('close', resolve), ws.close()))));
  return seen;
}

t.test('concurrent random interleavings: one holder per name, one outcome per request, answers reach their own sender [SB-3-2] [SB-6-1] [SB-6-5] [SB-6-8]', async (t) => {
  let requestsChecked = 0;
  const property = fc.asyncProperty(fc.array(script, { minLength: 4, maxLength: 4 }), (scripts) =>
    withBroker({ limits: { badFrameBudget: 10_000 } }, async (broker, url) => {
      const holders = new Map<string, number>();
      let maxHolders = 0;
      broker.on('registered', (n) => {
        holders.set(n, (holders.get(n) ?? 0) + 1);
        maxHolders = Math.max(maxHolders, holders.get(n)!);
      });
      broker.on('unregistered', (n) => holders.set(n, (holders.get(n) ?? 0) - 1));
      const seen = await runConcurrently(broker, url, scripts);
      if (maxHolders > 1) throw new Error('two connections held one name at once [SB-3-2]');
      for (const [i, s] of scripts.entries()) {
        const count = s.steps.filter((x) => x.kind === 'request').length;
        for (let n = 0; n < count; n++) {
          const ack = `q${n}`;
          const ends = seen[i].frames.filter((f) => f.ack === ack && (f.action === 'answer' || f.action === 'error'));
          if (ends.length !== 1) throw new Error(`client ${i} request ${ack} ended ${ends.length} times: ${JSON.stringify(ends)}`);
          const end = ends[0];
          const echo = (end.message as { echo?: { from?: number; ack?: string } } | undefined)?.echo;
          if (end.action === 'answer' && end.error === undefined && (echo?.from !== i || echo?.ack !== ack)) {
            throw new Error(`client ${i} got the answer to someone else's request: ${JSON.stringify(end)}`);
          }
          const reportAt = seen[i].frames.findIndex((f) => f.action === 'sent' && f.ack === ack);
          if (reportAt !== -1 && reportAt > seen[i].frames.indexOf(end)) throw new Error(`the outcome of ${ack} came before its report [SB-4.3-3]`);
          requestsChecked++;
        }
      }
    }),
  );
  const result = await fc.check(property, checkOptions(40));
  t.comment(`seed ${result.seed}: ${requestsChecked} requests checked`);
  if (result.failed) t.fail(`${fc.defaultReportMessage(result) ?? 'property failed'}\n${String(result.errorInstance)}`);
  else t.pass(`${result.numRuns} concurrent runs kept every invariant`);
  t.same(last, NOTHING_HELD, 'the last run\'s broker held nothing at its end');
});
