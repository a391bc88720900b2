/**
 * The CLI in local mode, as a user runs it: `switchboard answer --local app calc` in one process and
 * `switchboard request --local app calc '{...}'` in another, with no broker started by anyone (the first
 * process hosts the app). Exit codes are those of the URL mode. The spawned processes find the app's
 * private directory in SWITCHBOARD_LOCAL_DIR. Needs a build (skipped with the reason otherwise).
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { EXIT_CODES } from '../../lib/cli/client-command.js';
import { run as request } from '../../lib/cli/request.js';
import { CLI } from '../fixtures/broker-process.js';
import { collect, inProcess, type Ran } from '../fixtures/cli.js';
import { within } from '../fixtures/clients.js';
import { appName, built, privateDir } from '../fixtures/local-process.js';

const skip = built();

/** Start `switchboard <args>` with the local directory `dir`; resolves once stderr says `ready`. Stopped at teardown. */
async function started(t: Test, dir: string, args: string[], ready: string): Promise<{ child: ChildProcess; stdout: () => string; done: Promise<Ran> }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SWITCHBOARD_LOCAL_DIR: dir } });
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const done = collect(child);
  t.teardown(async () => {
    child.kill('SIGKILL');
    await done;
  });
  await within(
    new Promise<void>((resolve) => child.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes(ready) && resolve())),
    15_000,
    `switchboard ${args.join(' ')}`,
  );
  return { child, stdout: () => stdout, done };
}

/** Run `switchboard <args>` to its end with the local directory `dir` (deadline 15 s). */
function run(dir: string, args: string[]): Promise<Ran> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SWITCHBOARD_LOCAL_DIR: dir } });
  return within(collect(child), 15_000, `switchboard ${args.join(' ')}`);
}

t.test('answer --local serves a name and request --local asks it, with no broker started', { skip }, async (t) => {
  const dir = privateDir(t);
  const app = appName('cli');
  await started(t, dir, ['answer', '--local', app, 'calc'], 'answering as calc');
  const ran = await run(dir, ['request', '--local', app, 'calc', '{"add":[1,2]}']);
  t.equal(ran.code, EXIT_CODES.ok, `exit 0 ${ran.stderr}`);
  t.same(JSON.parse(ran.stdout), { add: [1, 2] }, 'the echo answer');
  const gathered = await run(dir, ['request', '--local', app, 'calc', '"x"', '--gather']);
  t.same(JSON.parse(gathered.stdout), [{ from: 'calc', message: 'x' }], '--gather too');
});

t.test('local mode exit codes: 3 no_responders, 12 name_taken, 2 for a bad app', { skip }, async (t) => {
  const dir = privateDir(t);
  const app = appName('cli-codes');
  await started(t, dir, ['answer', '--local', app, 'calc'], 'answering as calc');
  t.equal((await run(dir, ['request', '--local', app, 'nobody', '1'])).code, EXIT_CODES.no_responders, 'nobody by that name');
  t.equal((await run(dir, ['answer', '--local', app, 'calc'])).code, EXIT_CODES.name_taken, 'the name is held by the other process');
  t.equal((await run(dir, ['request', '--local', app, 'nobody', '1', '--name', 'calc'])).code, EXIT_CODES.name_taken, 'a --name held by another');
  const bad = await run(dir, ['request', '--local', 'no/slashes', 'calc', '1']);
  t.equal(bad.code, EXIT_CODES.usage, 'a bad app');
  t.match(bad.stderr, /app "no\/slashes"/, 'the problem is said');
});

t.test('request --local alone hosts the app for its own short life: no_responders, then it exits', { skip }, async (t) => {
  const dir = privateDir(t);
  const ran = await run(dir, ['request', '--local', appName('alone'), 'calc', '1']);
  t.equal(ran.code, EXIT_CODES.no_responders, `exit 3 ${ran.stderr}`);
});

t.test('subscribe --local prints what publish --local publishes', { skip }, async (t) => {
  const dir = privateDir(t);
  const app = appName('cli-topics');
  const subscriber = await started(t, dir, ['subscribe', '--local', app, 'news'], 'subscribed to news');
  const published = await run(dir, ['publish', '--local', app, 'news.uk', '{"headline":"h"}', '--name', 'desk']);
  t.equal(published.code, EXIT_CODES.ok, `publish exits 0 ${published.stderr}`);
  t.equal(published.stdout, '1\n', 'one receiver');
  await within(
    (async () => {
      while (!subscriber.stdout().includes('\n')) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    5000,
    'subscriber prints',
  );
  t.same(JSON.parse(subscriber.stdout()), { topic: 'news.uk', context: 'news', from: 'desk', message: { headline: 'h' } }, 'the subscriber prints the delivery');
});

t.test('request --local run in this process asks a name served by another process', { skip }, async (t) => {
  const dir = privateDir(t);
  const app = appName('cli-in');
  await started(t, dir, ['answer', '--local', app, 'echo'], 'answering as echo');
  const previous = process.env.SWITCHBOARD_LOCAL_DIR;
  process.env.SWITCHBOARD_LOCAL_DIR = dir;
  t.teardown(() => {
    if (previous === undefined) delete process.env.SWITCHBOARD_LOCAL_DIR;
    else process.env.SWITCHBOARD_LOCAL_DIR = previous;
  });
  const ran = await inProcess(request, ['--local', app, 'echo', '[1]']);
  t.equal(ran.code, EXIT_CODES.ok, `exit 0 ${ran.stderr}`);
  t.equal(ran.stdout, '[1]\n', 'the answer printed');
});
