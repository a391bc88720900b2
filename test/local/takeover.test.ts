/**
 * Local mode's takeover, with real processes and real sockets: separate Node processes of one app (two
 * entry files, none the child of another, no cluster master) talk by name and to all; then the host is
 * killed with SIGKILL at a random moment of busy traffic, again and again, each time restarted. Each
 * round checks: a new host, and every survivor ready again, within 1 s of the kill; every survivor's
 * names back; every request with exactly one outcome (and none handled twice); the numbered sends of
 * every survivor received in order, including those made while it waited for the new host; the killed
 * process's name or slot back when it restarts (as a new process, booted beforehand so that the rounds
 * do not wait for Node to start). The takeover times are printed as comments.
 */
import t, { type Test } from 'tap';
import { appName, built, privateDir, Standbys, workerEntries, type Event, type Worker, type WorkerConfig } from '../fixtures/local-process.js';
import type { SendOutcome, Stats } from '../fixtures/local-worker.js';

const skip = built();

/**
 * What a request may end with here: answered, or in flight when its connection died; to the killed
 * host's name, also no_responders (it is gone: no mailbox waits for a dead process).
 */
const TO_SURVIVOR = new Set(['ok', 'disconnected']);
const TO_KILLED = new Set(['ok', 'disconnected', 'no_responders']);
const TAKEOVER_LIMIT_MS = 1000;

interface Round {
  hostUpMs: number;
  allBackMs: number;
  queuedSends: number;
  /** Sends the new host held in a mailbox until their receiver was back. */
  heldSends: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The one worker whose last `ready` says it hosts. */
function currentHost(t: Test, workers: Worker[]): Worker {
  const hosts = workers.filter((worker) => {
    const readies = worker.events.filter((e) => e.ev === 'ready');
    return readies[readies.length - 1]?.hosting === true;
  });
  t.equal(hosts.length, 1, 'exactly one process hosts');
  return hosts[0];
}

async function startAll(standbys: Standbys, configs: WorkerConfig[]): Promise<Worker[]> {
  const workers: Worker[] = [];
  // Connected one at a time, so the slots are given in order (1, 2, ...).
  for (const config of configs) {
    const worker = standbys.take();
    await worker.connect(config);
    workers.push(worker);
  }
  return workers;
}

/** Every worker asks every other by name, and broadcasts to all. */
async function talk(t: Test, workers: Worker[]): Promise<void> {
  const marks = workers.map((worker) => worker.events.length);
  for (const [i, worker] of workers.entries()) {
    for (const other of workers) if (other !== worker) worker.send({ op: 'request', to: other.names[0], id: `hello-${other.names[0]}` });
    worker.send({ op: 'broadcast', id: `all-${i}` });
  }
  for (const [i, worker] of workers.entries()) {
    for (const other of workers) {
      if (other === worker) continue;
      const reply = await worker.next((e) => e.ev === 'reply' && e.id === `hello-${other.names[0]}`, 'reply by name', 5000, marks[i]);
      t.match(reply, { ok: true, from: other.names[0], message: { by: other.names[0] } }, `${worker.names[0]} asks ${other.names[0]} by name`);
    }
    const sent = await worker.next((e) => e.ev === 'broadcasted' && e.id === `all-${i}`, 'broadcast', 5000, marks[i]);
    t.equal(sent.count, workers.length - 1, `${worker.names[0]}'s broadcast reaches the ${workers.length - 1} others`);
  }
  for (const [i, worker] of workers.entries()) {
    for (const [j, other] of workers.entries()) {
      if (other === worker) continue;
      await worker.next((e) => e.ev === 'all' && e.id === `all-${j}` && e.from === other.names[0], 'broadcast received', 5000, marks[i]);
    }
  }
  t.pass('every broadcast arrives at every other process');
}

/** Check one sender's numbered sends against what its receiver got: in order, none lost that was reported. */
function checkSends(t: Test, sender: string, receiver: string, sends: SendOutcome[], got: number[], lastEpoch: number): { queued: number; missing: number[] } {
  const increasing = got.every((seq, i) => i === 0 || seq > got[i - 1]);
  const sent = new Set(sends.map((s) => s.seq));
  const receivedSet = new Set(got);
  // A report that came before the takeover may be all that is left of a message the killed host held.
  const reported = sends.filter((s) => (s.outcome === 'delivered' || s.outcome === 'queued') && s.epoch === lastEpoch);
  const missing = reported.filter((s) => !receivedSet.has(s.seq)).map((s) => s.seq);
  const queued = sends.filter((s) => s.queuedAtCall);
  t.ok(increasing, `${sender} -> ${receiver}: received in order, none twice`, { got });
  t.ok(got.every((seq) => sent.has(seq)), `${sender} -> ${receiver}: received only what was sent`);
  t.ok(sends.every((s) => s.outcome !== 'pending'), `${sender} -> ${receiver}: every send has its outcome`);
  const stray = queued.filter((s) => s.outcome !== 'delivered' && s.outcome !== 'queued');
  t.same(stray, [], `${sender} -> ${receiver}: the ${queued.length} sends made while waiting for the new host were delivered`);
  return { queued: queued.length, missing };
}

/** Kill the host during traffic, check the takeover, restart the killed process. */
async function killHostRound(t: Test, workers: Worker[], standbys: Standbys, round: number): Promise<Round> {
  const host = currentHost(t, workers);
  const survivors = workers.filter((worker) => worker !== host);
  const namesBefore = new Map(workers.map((worker) => [worker, worker.names]));
  const slotBefore = host.events.filter((e) => e.ev === 'ready').pop()?.slot;
  const stream = `r${round}`;
  const marks = new Map(workers.map((worker) => [worker, worker.events.length]));
  const sendTo = new Map(survivors.map((worker, i) => [worker, survivors[(i + 1) % survivors.length]]));
  for (const worker of workers) {
    const peers = workers.filter((other) => other !== worker).map((other) => other.names[0]);
    worker.send({ op: 'traffic', peers, sendTo: (sendTo.get(worker) ?? survivors[0]).names[0], stream: `${stream}-${worker.names[0]}`, everyMs: 4 });
  }
  await sleep(30 + Math.floor(Math.random() * 170));
  const killAt = performance.timeOrigin + performance.now();
  await host.kill();

  const back: Event[] = [];
  for (const worker of survivors) {
    back.push(await worker.next((e) => e.ev === 'ready' && e.at > killAt, `round ${round}: ${worker.names[0]} ready again`, 5000, marks.get(worker)));
  }
  const newHosts = back.filter((e) => e.hosting === true);
  t.equal(newHosts.length, 1, `round ${round}: one survivor hosts`);
  const hostUpMs = newHosts.length === 1 ? newHosts[0].at - killAt : Infinity;
  const allBackMs = Math.max(...back.map((e) => e.at)) - killAt;
  t.ok(allBackMs < TAKEOVER_LIMIT_MS, `round ${round}: a new host and every survivor ready within ${TAKEOVER_LIMIT_MS} ms (${allBackMs.toFixed(1)} ms)`);
  for (const [i, worker] of survivors.entries()) t.same(back[i].names, namesBefore.get(worker), `round ${round}: ${worker.names[0]} has its names back`);

  // Let traffic run on the new host, then settle every outcome.
  await sleep(50);
  for (const worker of survivors) worker.send({ op: 'stop' });
  const stats = new Map<Worker, Stats>();
  for (const worker of survivors) {
    const event = await worker.next((e) => e.ev === 'stats', `round ${round}: ${worker.names[0]} stats`, 10_000, marks.get(worker));
    t.equal(event.outstanding, 0, `round ${round}: ${worker.names[0]} has nothing left unsettled`);
    stats.set(worker, event.stats as Stats);
  }
  for (const [worker, { requests }] of stats) {
    t.equal(requests.settled, requests.started, `round ${round}: each of ${worker.names[0]}'s ${requests.started} requests has exactly one outcome`);
    const killed = namesBefore.get(host)![0];
    const odd = Object.keys(requests.outcomes).filter((key) => {
      const [to, code] = key.split(' ');
      return !(to === killed ? TO_KILLED : TO_SURVIVOR).has(code);
    });
    t.same(odd, [], `round ${round}: ${worker.names[0]}'s requests end answered or disconnected (to the killed host: or no_responders)`, { outcomes: requests.outcomes });
  }

  // What each receiver got; asked again briefly while a reported send is still on its way.
  let queuedSends = 0;
  let heldSends = 0;
  for (const sender of survivors) {
    const receiver = sendTo.get(sender)!;
    const sends = stats.get(sender)!.sends;
    let got: number[] = [];
    const deadline = Date.now() + 3000;
    for (;;) {
      const mark = receiver.events.length;
      receiver.send({ op: 'received' });
      const event = await receiver.next((e) => e.ev === 'received', 'received', 5000, mark);
      t.equal(event.duplicates, 0, `round ${round}: ${receiver.names[0]} handled no request twice`);
      got = (event.streams as Record<string, number[]>)[`${stream}-${sender.names[0]}`] ?? [];
      const receivedSet = new Set(got);
      const lastEpoch = stats.get(sender)!.epoch;
      const waiting = sends.some((s) => (s.outcome === 'delivered' || s.outcome === 'queued') && s.epoch === lastEpoch && !receivedSet.has(s.seq));
      if (!waiting || Date.now() > deadline) break;
      await sleep(50);
    }
    const { queued, missing } = checkSends(t, sender.names[0], receiver.names[0], sends, got, stats.get(sender)!.epoch);
    t.same(missing, [], `round ${round}: ${sender.names[0]} -> ${receiver.names[0]}: every send reported delivered or queued by the new host arrived`);
    queuedSends += queued;
    heldSends += sends.filter((s) => s.outcome === 'queued').length;
  }

  // The killed process comes back (a new process, booted beforehand), with its name or its slot.
  const restarted = standbys.take();
  const first = await restarted.connect(host.config!);
  workers[workers.indexOf(host)] = restarted;
  t.same(restarted.names, namesBefore.get(host), `round ${round}: the restarted process has its ${slotBefore === null ? 'name' : 'slot'} back`);
  t.equal(first.hosting, false, `round ${round}: the restarted process joins the new host`);
  return { hostUpMs, allBackMs, queuedSends, heldSends };
}

async function takeovers(t: Test, lock: 'abstract' | 'file', processes: number, kills: number): Promise<void> {
  const dir = privateDir(t);
  const app = appName(`takeover-${lock}`);
  const booting = performance.now();
  const standbys = new Standbys(t, workerEntries(t), processes + kills);
  await standbys.booted();
  const bootMs = performance.now() - booting;
  const configs: WorkerConfig[] = [
    { app, dir, lock, name: 'alpha' },
    { app, dir, lock, name: 'beta' },
    { app, dir, lock },
    { app, dir, lock },
  ].slice(0, processes);
  const workers = await startAll(standbys, configs);
  t.same(
    workers.map((worker) => worker.names),
    configs.map((config, i) => (config.name !== undefined ? [config.name] : [String(i - 1)])),
    'named processes hold their names; the others get slots 1, 2, ... in order',
  );
  await talk(t, workers);
  const rounds: Round[] = [];
  const killing = performance.now();
  for (let round = 1; round <= kills; round++) rounds.push(await killHostRound(t, workers, standbys, round));
  const killingMs = performance.now() - killing;
  await talk(t, workers);
  const hostUp = rounds.map((r) => r.hostUpMs);
  const allBack = rounds.map((r) => r.allBackMs);
  const queued = rounds.reduce((sum, r) => sum + r.queuedSends, 0);
  const held = rounds.reduce((sum, r) => sum + r.heldSends, 0);
  t.ok(queued > 0, `sends were made while waiting for the new host (${queued} in ${kills} rounds), and checked`);
  t.comment(`${held} sends were held by a new host until their receiver was back (reported queued), and arrived`);
  t.comment(`lock ${lock}, ${processes} processes, ${kills} kills of the host: ${(killingMs / 1000).toFixed(1)} s (booting the ${processes + kills} processes before: ${(bootMs / 1000).toFixed(1)} s)`);
  t.comment(`new host ready after the kill (ms): median ${median(hostUp).toFixed(1)}, max ${Math.max(...hostUp).toFixed(1)}: ${hostUp.map((v) => v.toFixed(1)).join(' ')}`);
  t.comment(`every survivor ready after the kill (ms): median ${median(allBack).toFixed(1)}, max ${Math.max(...allBack).toFixed(1)}: ${allBack.map((v) => v.toFixed(1)).join(' ')}`);
}

t.test('four processes, the host killed with kill -9 ten times in a row: a new host within 1 s, names back, one outcome per request, queued sends in order', { skip: skip ?? (process.platform !== 'linux' && 'abstract sockets need Linux') }, async (t) => {
  await takeovers(t, 'abstract', 4, 10);
});

t.test('the same with the lock file of other platforms (forced here): three processes, host killed three times', { skip }, async (t) => {
  await takeovers(t, 'file', 3, 3);
});
