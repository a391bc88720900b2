/**
 * Local mode between processes when nobody is killed: processes that share no entry file and no parent
 * find each other; a hosting process that closes hands the app over (another process hosts, every name
 * comes back, requests work again); and when the last process closes, nothing is left in the private
 * directory but empty folders. The takeover after `kill -9` is in takeover.test.ts.
 */
import t from 'tap';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { appName, built, privateDir, Standbys, workerEntries, type Worker } from '../fixtures/local-process.js';

const skip = built();

async function ask(worker: Worker, to: string, id: string): Promise<Record<string, unknown>> {
  const mark = worker.events.length;
  worker.send({ op: 'request', to, id });
  return worker.next((e) => e.ev === 'reply' && e.id === id, `reply ${id}`, 5000, mark);
}

t.test('a hosting process that closes hands over: another hosts, names come back, requests work; the last leaves nothing behind', { skip }, async (t) => {
  const dir = privateDir(t);
  const app = appName('handover');
  const standbys = new Standbys(t, workerEntries(t), 3);
  await standbys.booted();
  const workers: Worker[] = [];
  for (const name of ['alpha', undefined, undefined]) {
    const worker = standbys.take();
    await worker.connect({ app, dir, ...(name === undefined ? {} : { name }) });
    workers.push(worker);
  }
  const [alpha, one, two] = workers;
  t.same(workers.map((w) => w.names), [['alpha'], ['1'], ['2']], 'a name, and slots 1 and 2');
  t.equal(alpha.events.find((e) => e.ev === 'ready')?.hosting, true, 'the first process hosts');
  t.match(await ask(one, '2', 'before'), { ok: true, from: '2' }, 'slot 1 asks slot 2 by number');

  const marks = [one.events.length, two.events.length];
  const closing = alpha.events.length;
  alpha.send({ op: 'close' });
  await alpha.next((e) => e.ev === 'closed', 'alpha closed', 5000, closing);
  await alpha.exited;
  const back = [
    await one.next((e) => e.ev === 'ready', 'slot 1 back', 5000, marks[0]),
    await two.next((e) => e.ev === 'ready', 'slot 2 back', 5000, marks[1]),
  ];
  t.equal(back.filter((e) => e.hosting === true).length, 1, 'one of the others hosts now');
  t.same(back.map((e) => e.names), [['1'], ['2']], 'with their names');
  t.match(await ask(two, '1', 'after'), { ok: true, from: '1' }, 'requests work through the new host');
  t.match(await ask(two, 'alpha', 'gone'), { ok: false, code: 'no_responders' }, 'the closed process is gone');

  for (const worker of [one, two]) {
    const mark = worker.events.length;
    worker.send({ op: 'close' });
    await worker.next((e) => e.ev === 'closed', 'closed', 5000, mark);
    await worker.exited;
  }
  t.same(readdirSync(dir).sort(), [`${app}.members`], 'no socket, no host file, no lock file left');
  t.same(readdirSync(join(dir, `${app}.members`)), [], 'no member file left');
});
