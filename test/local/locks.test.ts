/**
 * The locks of local mode (lib/local/locks.ts): the abstract-socket lock of Linux is held while its
 * socket lives and free the moment its process dies, `kill -9` included; the lock file of other
 * platforms holds a pid, is taken over when that process is dead (a zombie counts as dead), and is
 * never removed by anyone but its holder.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireAbstract, acquireFile, alive } from '../../lib/local/locks.js';
import { within } from '../fixtures/clients.js';
import { privateDir } from '../fixtures/local-process.js';

const linuxOnly = process.platform !== 'linux' && 'abstract sockets need Linux';

/** The pid of a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await within(new Promise((resolve) => child.once('exit', resolve)), 10_000, 'short process exits');
  return child.pid!;
}

t.test('an abstract lock is held by one holder at a time and free again once released', { skip: linuxOnly }, async (t) => {
  const name = `switchboard-test/${process.pid}/${Math.random()}`;
  const first = await acquireAbstract(name);
  t.ok(first, 'acquired');
  t.equal(await acquireAbstract(name), undefined, 'a second attempt finds it held');
  await first!.release();
  await first!.release(); // idempotent
  const again = await acquireAbstract(name);
  t.ok(again, 'free again after release');
  await again!.release();
});

t.test('an abstract lock is free the moment its process is killed with SIGKILL', { skip: linuxOnly }, async (t) => {
  const name = `switchboard-test/${process.pid}/${Math.random()}`;
  const program = `require('net').createServer().listen({ path: '\\0' + ${JSON.stringify(name)} }, () => console.log('bound'));`;
  const child = spawn(process.execPath, ['-e', program], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.teardown(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  await within(new Promise((resolve) => child.stdout!.once('data', resolve)), 10_000, 'child binds');
  t.equal(await acquireAbstract(name), undefined, 'held by the other process');
  child.kill('SIGKILL');
  await within(exited, 5000, 'child gone');
  const lock = await acquireAbstract(name);
  t.ok(lock, 'free once its holder is dead, with nothing to clean up');
  await lock?.release();
});

t.test('a lock file holds the pid of its holder, and only the holder removes it', async (t) => {
  const path = join(privateDir(t), 'app.host.lock');
  const lock = acquireFile(path);
  t.ok(lock, 'acquired');
  t.equal(readFileSync(path, 'utf8').trim(), String(process.pid), 'the file names the holder');
  t.equal(acquireFile(path), undefined, 'a live holder (this process) keeps it');
  await lock!.release();
  t.notOk(existsSync(path), 'released: removed');
  const mine = acquireFile(path);
  writeFileSync(path, `${process.ppid}\n`); // someone else's now (the parent: alive)
  await mine!.release();
  t.ok(existsSync(path), 'a release never removes a lock that is not the holder\'s any more');
  t.equal(acquireFile(path), undefined, 'the live other holder keeps it');
});

t.test('a lock file whose holder is dead is taken over', async (t) => {
  const path = join(privateDir(t), 'app.slot.1.lock');
  writeFileSync(path, `${await deadPid()}\n`);
  const lock = acquireFile(path);
  t.ok(lock, 'a stale lock is broken and taken');
  t.equal(readFileSync(path, 'utf8').trim(), String(process.pid), 'the file names the new holder');
  await lock!.release();
});

t.test('a process killed but not yet reaped (a zombie) is dead, though kill(pid, 0) still finds it', { skip: linuxOnly }, async (t) => {
  // sh starts a child that exits a moment later, once sh has become `sleep`, which never reaps it.
  const parent = spawn('/bin/sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise((resolve) => parent.once('exit', resolve));
  t.teardown(async () => {
    parent.kill('SIGKILL');
    await exited;
  });
  const pid = Number(String(await within(new Promise((resolve) => parent.stdout!.once('data', resolve)), 10_000, 'child pid')).trim());
  await within(
    (async () => {
      while (!readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z')) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    5000,
    'the child is a zombie',
  );
  t.doesNotThrow(() => process.kill(pid, 0), 'kill(pid, 0) finds the zombie');
  t.notOk(alive(pid), 'alive() says it is dead');
  t.ok(alive(process.pid), 'this process is alive');
  t.notOk(alive(await deadPid()), 'a reaped process is dead');
});
