/**
 * The redis-server that the cluster tests and the cluster bench start (lib/bench/redis.ts, through
 * test/fixtures/redis.ts): it answers on its own loopback port, keeps no data unless asked, comes back
 * on the same port and folder after kill -9 and after a stop, keeps AOF data across a restart when
 * asked, and is gone with its folder after teardown. Talks to it with the `redis` client.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'redis';
import t from 'tap';
import { startRedisServer } from '../../lib/bench/redis.js';
import { startRedis } from '../fixtures/redis.js';

const DEADLINE_MS = 5000;

/** One command on a fresh connection, with a deadline. */
async function command(url: string, args: string[]): Promise<unknown> {
  const client = createClient({ url, socket: { connectTimeout: DEADLINE_MS, reconnectStrategy: false } });
  client.on('error', () => {});
  const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${args[0]}: no reply within ${DEADLINE_MS} ms`)), DEADLINE_MS).unref());
  try {
    await Promise.race([client.connect(), deadline]);
    return await Promise.race([client.sendCommand(args), deadline]);
  } finally {
    client.destroy();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('answers on a free loopback port, without persistence by default', async (t) => {
  const redis = await startRedis(t);
  t.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  t.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
  t.type(redis.pid, 'number');
  t.equal(await command(redis.url, ['PING']), 'PONG');
  t.same(await command(redis.url, ['CONFIG', 'GET', 'appendonly']), { appendonly: 'no' });
  t.same(await command(redis.url, ['CONFIG', 'GET', 'save']), { save: '' });
  t.same(await command(redis.url, ['CONFIG', 'GET', 'dir']), { dir: redis.dir });
});

t.test('kill9 ends the process; restart brings it back on the same port and folder, empty', async (t) => {
  const redis = await startRedis(t);
  await command(redis.url, ['SET', 'k', 'v']);
  const first = redis.pid as number;
  await redis.kill9();
  t.equal(redis.pid, undefined, 'no pid once it has exited');
  t.notOk(alive(first), 'the process is gone');
  await t.rejects(command(redis.url, ['PING']), 'nothing answers on its port');
  await redis.restart();
  t.not(redis.pid, first, 'a new process');
  t.equal(await command(redis.url, ['PING']), 'PONG');
  t.same(await command(redis.url, ['CONFIG', 'GET', 'dir']), { dir: redis.dir });
  t.equal(await command(redis.url, ['GET', 'k']), null, 'without persistence the data is gone');
});

t.test('with appendonly, a write survives kill -9 and a stop (appendfsync always)', async (t) => {
  const redis = await startRedis(t, { appendonly: true });
  t.same(await command(redis.url, ['CONFIG', 'GET', 'appendfsync']), { appendfsync: 'always' });
  await command(redis.url, ['SET', 'k', 'v']);
  await redis.kill9();
  await redis.restart();
  t.equal(await command(redis.url, ['GET', 'k']), 'v', 'after kill -9');
  await redis.stop();
  t.equal(redis.pid, undefined);
  await redis.restart();
  t.equal(await command(redis.url, ['GET', 'k']), 'v', 'after a stop');
});

t.test('teardown ends the server and removes its folder, also one the test killed', async (t) => {
  let pid = 0;
  let dir = '';
  await t.test('a test that starts it', async (t) => {
    const redis = await startRedis(t, { appendonly: true });
    pid = redis.pid as number;
    dir = redis.dir;
    t.ok(existsSync(join(dir, 'appendonlydir')), 'AOF files in its folder');
  });
  t.notOk(alive(pid), 'the process is gone after the subtest');
  t.notOk(existsSync(dir), 'its folder is gone');

  await t.test('a test that killed it itself', async (t) => {
    const redis = await startRedis(t);
    dir = redis.dir;
    await redis.kill9();
  });
  t.notOk(existsSync(dir), 'its folder is gone');
});

t.test('a start that cannot succeed rejects with the reason', async (t) => {
  await t.rejects(startRedisServer({ executable: '/nonexistent/redis-server' }), { message: /could not be started|exited/ });
  await t.rejects(startRedisServer({ executable: 'false' }), { message: /exited/ });
});
