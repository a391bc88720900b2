/**
 * Local mode in one process (lib/local): `connectLocal` gives a ready client whose whole API works
 * through the app's in-process host over its private socket; names are owned, unnamed clients get the
 * lowest free slot, requests that arrive before the caller attaches its handler wait for it, and bad
 * apps, options and directories are refused with `invalid_argument`. The takeover between processes is
 * in takeover.test.ts and handover.test.ts.
 */
import t, { type Test } from 'tap';
import { chmodSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { connectLocal, type LocalClient, type LocalOptions } from '../../lib/client/node.js';
import { connectLocal as connectWithPlainWs, MAX_HELD_FRAMES } from '../../lib/local/index.js';
import { InboundGate } from '../../lib/local/socket.js';
import { rejection, within } from '../fixtures/clients.js';
import { appName, privateDir } from '../fixtures/local-process.js';

async function local(t: Test, app: string, options: LocalOptions): Promise<LocalClient> {
  const client = await within(connectLocal(app, options), 5000, `connectLocal ${options.name ?? '(slot)'}`);
  t.teardown(() => client.close());
  return client;
}

t.test('the first client hosts the app and the others join it: requests, topics, gather, broadcast and events work', async (t) => {
  const dir = privateDir(t);
  const app = appName('api');
  const calc = await local(t, app, { dir, name: 'calc' });
  t.ok(calc.hosting, 'the first client of the app hosts it, in its own process');
  t.equal(calc.app, app);
  calc.handle((message) => (message as number[]).reduce((a, b) => a + b, 0));
  calc.handle(() => 'pong', { event: 'ping' });
  const web = await local(t, app, { dir, name: 'web' });
  t.same(await web.request('calc', [1, 2, 3]), { from: 'calc', message: 6 }, 'a request by name is answered');
  t.same(await web.request('calc', null, { event: 'ping' }), { from: 'calc', message: 'pong' }, 'an event name picks its handler');
  t.equal((await rejection(web.request('nobody', 1))).code, 'no_responders', 'no such name: no_responders at once');

  const news: unknown[] = [];
  await calc.subscribe('news', (message) => void news.push(message));
  t.equal(await web.publish('news.uk', 'headline'), 1, 'a publish reaches the subscriber');
  t.same(await web.gather(['calc'], [2, 2]), [{ from: 'calc', message: 4 }], 'gather');

  const heard: unknown[] = [];
  const worker = await local(t, app, { dir });
  worker.handle((message) => void heard.push(message), { event: 'notice' });
  t.equal(await web.broadcast('all hands', { event: 'notice' }), 2, 'a broadcast reaches every other member');
  t.match(await web.send(['calc', String(worker.slot)], 'hi'), { delivered: ['calc', String(worker.slot)] }, 'a send to a slot by its number');
  await within(
    (async () => {
      while (news.length === 0 || heard.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    3000,
    'publish and broadcast delivered',
  );
  t.same(news, ['headline']);
  t.same(heard, ['all hands']);
});

t.test('a client given no name gets the lowest free slot, and a slot given up is given again', async (t) => {
  const dir = privateDir(t);
  const app = appName('slots');
  const first = await local(t, app, { dir });
  const second = await local(t, app, { dir });
  const third = await local(t, app, { dir });
  t.same([first.slot, second.slot, third.slot], [1, 2, 3], 'slots 1, 2, 3 in order');
  t.same(second.names, ['2'], 'a slot is held as the name of its number');
  await second.close();
  const again = await local(t, app, { dir });
  t.equal(again.slot, 2, 'the lowest free slot is the one given up');
  t.same(again.names, ['2']);
});

t.test('a member named like a free slot makes the next unnamed client skip that number', async (t) => {
  const dir = privateDir(t);
  const app = appName('skip');
  await local(t, app, { dir, name: '1' });
  const unnamed = await local(t, app, { dir });
  t.equal(unnamed.slot, 2, 'slot 1 is free as a lock, but its name is taken: slot 2');
});

t.test('a name another member holds is refused with name_taken, and the refused client leaves nothing behind', async (t) => {
  const dir = privateDir(t);
  const app = appName('taken');
  const holder = await local(t, app, { dir, name: 'calc' });
  const refused = await rejection(connectLocal(app, { dir, name: 'calc' }), 5000);
  t.equal(refused.code, 'name_taken');
  t.ok(holder.hosting, 'the host is untouched');
  const other = await local(t, app, { dir, name: 'other' });
  t.match(await other.send('calc', 1), { delivered: ['calc'] }, 'the holder still serves its name');
});

t.test('a request that arrives before the caller attaches its handler waits for it instead of meeting no handler', async (t) => {
  const dir = privateDir(t);
  const app = appName('gate');
  const asker = await local(t, app, { dir, name: 'asker' });
  const joining = connectLocal(app, { dir, name: 'late' });
  // Ask until the name exists: the first requests that reach it arrive before connectLocal resolves.
  const answers: Array<Promise<unknown>> = [];
  let registered = false;
  const timer = setInterval(() => {
    if (registered) return;
    answers.push(asker.request('late', 'early?', { timeout: 3000 }).then(
      ({ message }) => {
        registered = true;
        return message;
      },
      (error: { code: string }) => error.code,
    ));
  }, 1);
  const late = await within(joining, 5000, 'late client ready');
  late.handle(() => 'handled');
  t.teardown(() => late.close());
  await within(
    (async () => {
      while (!registered) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    3000,
    'a request reached the late client',
  );
  clearInterval(timer);
  const outcomes = await Promise.all(answers);
  t.ok(outcomes.includes('handled'), 'requests were answered by the handler');
  t.same(outcomes.filter((outcome) => outcome !== 'handled' && outcome !== 'no_responders'), [], 'none was answered no_handler');
});

t.test('local mode also runs on the plain ws package (the default of lib/local)', async (t) => {
  const dir = privateDir(t);
  const app = appName('plain');
  const echo = await within(connectWithPlainWs(app, { dir, name: 'echo' }), 5000, 'plain client');
  t.teardown(() => echo.close());
  echo.handle((message) => message);
  const asker = await local(t, app, { dir });
  t.same(await asker.request('echo', 'x'), { from: 'echo', message: 'x' });
});

t.test('closing the last client of a hosting process ends its broker and leaves no socket, no host file, no member file', async (t) => {
  const dir = privateDir(t);
  const app = appName('tidy');
  const a = await local(t, app, { dir, name: 'a' });
  const b = await local(t, app, { dir });
  t.ok(existsSync(join(dir, `${app}.sock`)), 'the host listens on the socket in the private directory');
  await a.close();
  t.ok(b.hosting, 'another client of the process keeps the broker');
  await b.close();
  t.notOk(b.hosting);
  t.notOk(existsSync(join(dir, `${app}.sock`)), 'the socket file is gone');
  t.notOk(existsSync(join(dir, `${app}.host`)), 'the host file is gone');
  const { readdirSync } = await import('node:fs');
  t.same(readdirSync(join(dir, `${app}.members`)), [], 'no member file is left');
  const again = await local(t, app, { dir, name: 'a' });
  t.ok(again.hosting, 'the next client hosts again');
});

t.test('bad apps, options and directories are refused with invalid_argument', async (t) => {
  const dir = privateDir(t);
  for (const app of ['', '.hidden', 'a/b', 'x'.repeat(65), '../up']) {
    t.equal((await rejection(connectLocal(app, { dir }))).code, 'invalid_argument', `app ${JSON.stringify(app)}`);
  }
  const open = join(dir, 'open');
  mkdirSync(open, { mode: 0o755 });
  chmodSync(open, 0o755);
  const openError = await rejection(connectLocal('app', { dir: open }));
  t.equal(openError.code, 'invalid_argument', 'a directory other users can enter');
  t.match(openError.message, /open to other users/);
  const link = join(dir, 'link');
  symlinkSync(dir, link);
  t.match(await rejection(connectLocal('app', { dir: link })), { code: 'invalid_argument', message: /symbolic link/ }, 'a symbolic link');
  t.match(await rejection(connectLocal('app', { dir, broker: { limits: { nonsense: 1 } as never } })), { code: 'invalid_argument', message: /broker/ }, 'bad broker options');
  t.match(await rejection(connectLocal('app', { dir, lock: 'flock' as never })), { code: 'invalid_argument' }, 'an unknown lock kind');
  t.match(await rejection(connectLocal('app', { dir: join(dir, 'x'.repeat(120)) })), { code: 'invalid_argument', message: /too long/ }, 'a directory too long for a socket path');
  t.match(await rejection(connectLocal('app', { dir, requestTimeoutMs: -1 })), { code: 'invalid_argument' }, 'bad client options');
});

t.test(`the inbound gate holds messages and cancels in order, at most ${MAX_HELD_FRAMES}; the rest, and everything once open, passes`, async (t) => {
  const gate = new InboundGate();
  const delivered: string[] = [];
  const frame = (action: string, n: number) => JSON.stringify({ action, n });
  gate.pass(frame('registered', 0), () => delivered.push('registered'));
  t.same(delivered, ['registered'], 'a reply the client needs to become ready passes');
  for (let n = 1; n <= MAX_HELD_FRAMES; n++) gate.pass(frame(n % 2 === 0 ? 'cancel' : 'message', n), () => delivered.push(`held ${n}`));
  t.equal(delivered.length, 1, `${MAX_HELD_FRAMES} messages and cancels wait`);
  gate.pass(frame('message', MAX_HELD_FRAMES + 1), () => delivered.push('over the bound'));
  t.same(delivered, ['registered', 'over the bound'], 'one more passes at once rather than wait unbounded');
  gate.open();
  t.equal(delivered.length, MAX_HELD_FRAMES + 2, 'opening delivers what waited');
  t.same(delivered.slice(2, 5), ['held 1', 'held 2', 'held 3'], 'in order');
  gate.pass(frame('message', 0), () => delivered.push('after'));
  t.equal(delivered[delivered.length - 1], 'after', 'an open gate holds nothing');
});
