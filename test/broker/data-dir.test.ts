/**
 * Mailboxes on disk (`--data-dir`, protocol.md section 6.3, lib/broker/mailbox-file.ts): what one broker
 * reported `queued` outlives `kill -9` of its process, and comes to the name's next holder after the
 * restart in order, with the `mailbox` ids it had ([SB-6.3-4]); what a holder was written is not
 * delivered again; a journal cut short by a crash loses only its unreported last line. Real broker
 * processes for the kills; the store itself in this process for the journal.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Broker, sha256 } from '../../lib/broker/index.js';
import { FileMailboxes } from '../../lib/broker/mailbox-file.js';
import { DEFAULT_LIMITS } from '../../lib/protocol/index.js';
import { built, freePort, spawnBroker, type BrokerProcess } from '../fixtures/broker-process.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const message = (f: Frame) => f.action === 'message';

function folder(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-data-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function peer(t: Test, url: string, name?: string): Promise<Peer> {
  const made = name === undefined ? await Peer.connect(url, { timeoutMs: 5000 }) : await Peer.named(url, name, { timeoutMs: 5000 });
  t.teardown(() => made.ws.terminate());
  return made;
}

/** A broker process keeping its mailboxes in a new folder, and a connection holding the durable name `inbox` on it. */
async function startWithInbox(t: Test): Promise<{ port: number; args: string[]; broker: BrokerProcess; inbox: Peer }> {
  const port = await freePort();
  const args = ['--data-dir', folder(t)];
  const broker = await spawnBroker(t, port, 10_000, args);
  const inbox = await peer(t, broker.url);
  inbox.send({ action: 'register', id: 'inbox', durable: true });
  await inbox.next((f) => f.action === 'registered');
  return { port, args, broker, inbox };
}

t.test('what was reported queued outlives kill -9 of the broker, in order and with its mailbox ids; what was written is not sent again [SB-6.3-1] [SB-6.3-4]', { skip: built() }, async (t) => {
  const { port, args, broker: first, inbox } = await startWithInbox(t);
  let broker = first;
  inbox.ws.close();
  await new Promise((resolve) => inbox.ws.once('close', resolve));
  const web = await peer(t, broker.url, 'web');
  for (let i = 0; i < 5; i++) web.send({ action: 'send', dest: 'inbox', message: i, ref: `s${i}` });
  for (let i = 0; i < 5; i++) t.match(await web.next((f) => f.ref === `s${i}`), { action: 'sent', queued: ['inbox'] });
  await broker.kill();

  broker = await spawnBroker(t, port, 10_000, args);
  const back = await peer(t, broker.url);
  back.send({ action: 'register', id: 'inbox' });
  await back.next((f) => f.action === 'registered');
  const got: Frame[] = [];
  while (got.length < 5) got.push(await back.next(message));
  t.same(got.map((f) => f.message), [0, 1, 2, 3, 4], 'every queued message, in order, after the crash');
  const ids = got.map((f) => f.mailbox as string);
  t.ok(ids.every((id) => /^\d+-\d+$/.test(id)), 'each with its mailbox id');
  t.equal(new Set(ids).size, 5, 'no two alike');
  await new Promise((resolve) => setTimeout(resolve, 200)); // what was written is marked done
  await broker.kill();

  broker = await spawnBroker(t, port, 10_000, args);
  const again = await peer(t, broker.url);
  again.send({ action: 'register', id: 'inbox' });
  await again.next((f) => f.action === 'registered');
  t.same((await again.quiet(300)).filter(message), [], 'what its holder was written is not delivered again');
});

t.test('a durable name held when the broker is killed keeps a mailbox after the restart: sends to it are queued, not unknown [SB-6.3-1]', { skip: built() }, async (t) => {
  const { port, args, broker: first } = await startWithInbox(t); // its inbox holds the durable name on
  let broker = first;
  const pool = await peer(t, broker.url);
  pool.send({ action: 'register', id: 'workers', durable: true, shared: true });
  await pool.next((f) => f.action === 'registered');
  const plain = await peer(t, broker.url, 'plain');
  plain.send({ action: 'unregister', id: 'plain' });
  await plain.next((f) => f.action === 'unregistered');
  await broker.kill();

  broker = await spawnBroker(t, port, 10_000, args);
  const web = await peer(t, broker.url, 'web');
  web.send({ action: 'send', dest: ['inbox', 'workers', 'plain'], message: 'after', ref: 's1' });
  t.match(await web.next((f) => f.ref === 's1'), { action: 'sent', queued: ['inbox', 'workers'], unknown: ['plain'] }, 'the held durable names have mailboxes; a name that was not durable has none');
  const back = await peer(t, broker.url);
  back.send({ action: 'register', id: 'inbox', durable: true });
  await back.next((f) => f.action === 'registered');
  t.match(await back.next(message), { message: 'after', from: 'web' }, 'the next holder gets what was queued');
  await broker.kill();

  // Held, durable, again when killed again: a mailbox again.
  broker = await spawnBroker(t, port, 10_000, args);
  const sender = await peer(t, broker.url, 'web');
  sender.send({ action: 'send', dest: 'inbox', message: 'again', ref: 's2' });
  t.match(await sender.next((f) => f.ref === 's2'), { action: 'sent', queued: ['inbox'] });
});

t.test('a durable name taken over by a holder that is not durable has no mailbox after kill -9 [SB-6.3-1] [SB-4.1-6]', { skip: built() }, async (t) => {
  const auth = join(folder(t), 'auth.json');
  writeFileSync(auth, JSON.stringify({ identities: [{ id: 'svc', tokenSha256: sha256('secret').toString('hex'), permissions: { register: ['*'], send: ['*'] } }], anonymous: { id: 'guest', permissions: { send: ['*'], register: ['*'] } } }));
  const port = await freePort();
  const args = ['--data-dir', folder(t), '--auth', auth];
  let broker = await spawnBroker(t, port, 10_000, args);
  const authed = async () => {
    const p = await peer(t, broker.url);
    p.send({ action: 'auth', token: 'secret' });
    await p.next((f) => f.action === 'authenticated');
    return p;
  };
  const old = await authed();
  old.send({ action: 'register', id: 'svc', durable: true });
  await old.next((f) => f.action === 'registered');
  const heir = await authed();
  heir.send({ action: 'register', id: 'svc', takeover: true });
  t.match(await heir.next((f) => f.action === 'registered' || f.action === 'error'), { action: 'registered', id: 'svc' });
  await broker.kill();

  broker = await spawnBroker(t, port, 10_000, args);
  const web = await peer(t, broker.url, 'web');
  web.send({ action: 'send', dest: 'svc', message: 'after', ref: 's1' });
  const report = await web.next((f) => f.ref === 's1');
  t.match(report, { action: 'sent', unknown: ['svc'] }, 'its holder at the crash was not durable: no mailbox');
  t.notOk('queued' in report && (report.queued as string[]).includes('svc'), 'nothing queued for it');
});

t.test('a message queued after a restart gets an id above every id from before it [SB-6.3-4]', async (t) => {
  const dir = folder(t);
  const first = new Broker({ host: '127.0.0.1', port: 0, dataDir: dir, durableNames: ['inbox'] });
  const url = (await first.listen()).url;
  const inbox = await peer(t, url, 'inbox');
  inbox.ws.close();
  await new Promise((resolve) => inbox.ws.once('close', resolve));
  const web = await peer(t, url, 'web');
  web.send({ action: 'send', dest: 'inbox', message: 'before', ref: 's1' });
  await web.next((f) => f.ref === 's1');
  await first.close();

  const second = new Broker({ host: '127.0.0.1', port: 0, dataDir: dir, durableNames: ['inbox'] });
  t.teardown(() => second.close());
  const url2 = (await second.listen()).url;
  const web2 = await peer(t, url2, 'web');
  web2.send({ action: 'send', dest: 'inbox', message: 'after', ref: 's2' });
  t.match(await web2.next((f) => f.ref === 's2'), { action: 'sent', queued: ['inbox'] }, 'the mailbox is still open after the restart');
  const back = await peer(t, url2, 'inbox');
  const [before, after] = [await back.next(message), await back.next(message)];
  t.same([before.message, after.message], ['before', 'after']);
  const n = (f: Frame) => Number(String(f.mailbox).split('-')[1]);
  t.ok(n(after) > n(before), `${String(after.mailbox)} comes after ${String(before.mailbox)}`);
});

t.test('a journal cut short by a crash loses only its last line; a restart writes it anew with only what is owed', async (t) => {
  const dir = folder(t);
  const store = new FileMailboxes(DEFAULT_LIMITS, dir);
  store.open('a', 1000);
  const item = (body: string) => ({ payload: { body, from: 'web', suffix: '' }, senderId: 'c1', bytes: body.length, queuedAt: Date.now() });
  store.enqueue([{ name: 'a', slot: 0 }], item('"one"'));
  store.enqueue([{ name: 'a', slot: 0 }], item('"two"'));
  store.open('b', 1000);
  store.enqueue([{ name: 'b', slot: 0 }], item('"gone"'));
  store.settle('b', store.take('b'), true);
  await store.synced();
  store.close();
  appendFileSync(join(dir, 'mailboxes.jsonl'), '{"k":"add","n":"a","id":"9-9","t":1,"y');

  const reopened = new FileMailboxes(DEFAULT_LIMITS, dir);
  t.teardown(() => reopened.close());
  t.same(
    reopened.take('a').map((i) => i.payload.body),
    ['"one"', '"two"'],
    'both whole lines, not the cut one',
  );
  t.equal(reopened.has('b'), false, 'a mailbox taken and written is gone');
  const lines = readFileSync(join(dir, 'mailboxes.jsonl'), 'utf8').trim().split('\n');
  t.same(
    lines.map((line) => (JSON.parse(line) as { k: string }).k),
    ['open', 'add', 'add', 'close'],
    `the journal holds what was owed at the restart, then what happened since: ${lines.join(' / ')}`,
  );
});

t.test('a mailbox a holder left before it was written to it stays for the next one [SB-6.3-4]', async (t) => {
  const dir = folder(t);
  const store = new FileMailboxes(DEFAULT_LIMITS, dir);
  t.teardown(() => store.close());
  store.open('a', 1000);
  store.enqueue([{ name: 'a', slot: 0 }], { payload: { body: '1', from: 'web', suffix: '' }, senderId: 'c1', bytes: 1, queuedAt: Date.now() });
  const taken = store.take('a');
  store.settle('a', taken, false);
  t.same(store.take('a').map((i) => i.id), taken.map((i) => i.id), 'put back, with its id');
});

t.test('dataDir and cluster exclude each other', async (t) => {
  t.throws(() => new Broker({ dataDir: '/tmp/x', cluster: 'redis://127.0.0.1:1' }), /dataDir and cluster exclude each other/);
});
