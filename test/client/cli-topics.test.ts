/**
 * The CLI pair for topics, as a user runs it: `node dist/cli/main.js subscribe ...` in one process and
 * `node dist/cli/main.js publish ...` in another, against a real broker; the printed lines and the exit
 * codes (the same as `switchboard request` for `publish --request`). The spawned tests need a build
 * (`npm run build`; skipped with the reason otherwise); the in-process ones do not.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES } from '../../lib/cli/client-command.js';
import { run as publish } from '../../lib/cli/publish.js';
import { run as subscribe } from '../../lib/cli/subscribe.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { cli, collect, inProcess } from '../fixtures/cli.js';
import { built, CLI } from '../fixtures/broker-process.js';
import { readyClient, until, within } from '../fixtures/clients.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/** built(), and the two commands of this file compiled and not older than their sources. */
function builtHere(): string | undefined {
  for (const file of ['publish', 'subscribe']) {
    const out = join(ROOT, 'dist/cli', `${file}.js`);
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(ROOT, 'lib/cli', `${file}.ts`)).mtimeMs) {
      return `dist/cli/${file}.js is missing or older than its source: run \`npm run build\``;
    }
  }
  return built();
}

const skip = builtHere();

/** Start `switchboard subscribe topic ...`; resolves once subscribed. Stopped at teardown. */
async function subscriber(t: Test, url: string, topic: string, ...args: string[]) {
  const child = spawn(process.execPath, [CLI, 'subscribe', topic, '--url', url, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const done = collect(child);
  t.teardown(async () => {
    child.kill('SIGKILL');
    await done;
  });
  await within(
    new Promise<void>((resolve) => child.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('subscribed to') && resolve())),
    10_000,
    `subscribe ${topic} ready`,
  );
  return {
    child,
    done,
    text: () => stdout,
    lines: () => stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as unknown),
  };
}

t.test('subscribe prints one JSON line per delivery; publish prints the receiver count', { skip }, async (t) => {
  const { url } = await startBroker(t);
  const watcher = await subscriber(t, url, 'news', '--name', 'watcher');
  const sent = await cli(['publish', 'news.uk', '{"h":1}', '--url', url, '--name', 'pubber', '--event', 'breaking']);
  t.same([sent.code, sent.stdout], [0, '1\n'], sent.stderr);
  const beside = await cli(['publish', 'newsroom,news2', '2', '--url', url]);
  t.same([beside.code, beside.stdout], [0, '0\n'], 'nobody beside the topic');
  const both = await cli(['publish', 'news,news.fr', '3', '--url', url, '--name', 'pubber']);
  t.same([both.code, both.stdout], [0, '1\n'], 'once for two matching topics');
  await until(() => watcher.lines().length === 2, 'two lines printed', 5000);
  t.same(watcher.lines(), [
    { topic: 'news.uk', context: 'news', from: 'pubber', message: { h: 1 }, event: 'breaking' },
    { topic: 'news', context: 'news', from: 'pubber', message: 3 },
  ]);
  watcher.child.kill('SIGTERM');
  t.equal((await within(watcher.done, 5000, 'subscribe exits')).code, 0);
});

t.test('publish --request prints the first answer and exits as request does: 3, 4, 6; a watcher never answers', { skip }, async (t) => {
  const { url } = await startBroker(t);
  await subscriber(t, url, 'jobs');
  const worker = await readyClient(t, url, { name: 'worker' });
  await worker.subscribe('jobs.render', (message) => ({ rendered: message }));
  await worker.subscribe('jobs.fail', () => {
    throw Object.assign(new Error('no ink'), { code: 'out_of_ink' });
  });
  const ok = await cli(['publish', 'jobs.render', '"frame 7"', '--request', '--url', url]);
  t.same([ok.code, ok.stdout], [0, '{"rendered":"frame 7"}\n'], ok.stderr);
  const none = await cli(['publish', 'nobody', '1', '--request', '--url', url]);
  t.equal(none.code, EXIT_CODES.no_responders);
  t.match(none.stderr, /^switchboard publish: no_responders: /);
  const watched = await cli(['publish', 'jobs.other', '1', '--request', '--timeout', '300', '--url', url]);
  t.equal(watched.code, EXIT_CODES.timeout, 'the watcher got it and did not answer');
  const failed = await cli(['publish', 'jobs.fail', '1', '--request', '--url', url]);
  t.equal(failed.code, EXIT_CODES.responder_error);
  t.match(failed.stderr, 'responder_error (remote code out_of_ink)');
});

t.test('subscribe --answer echoes published requests, --exec answers with a command; --raw prints the message alone', { skip }, async (t) => {
  const { url } = await startBroker(t);
  const echo = await subscriber(t, url, 'echo', '--answer');
  const upper = await subscriber(t, url, 'upper', '--exec', 'tr a-z A-Z', '--raw');
  const echoed = await cli(['publish', 'echo.a', '{"n":1}', '--request', '--url', url]);
  t.same([echoed.code, echoed.stdout], [0, '{"n":1}\n'], echoed.stderr);
  t.match(echo.lines(), [{ topic: 'echo.a', context: 'echo', message: { n: 1 } }], 'printed as well as answered');
  const shouted = await cli(['publish', 'upper', 'shout', '--request', '--raw', '--url', url]);
  t.same([shouted.code, shouted.stdout], [0, 'SHOUT\n'], shouted.stderr);
  const plain = await cli(['publish', 'upper', 'just news', '--raw', '--url', url]);
  t.same([plain.code, plain.stdout], [0, '1\n'], 'a publication without a request is printed, not answered');
  await until(() => upper.text() === 'shout\njust news\n', 'the raw subscriber printed both messages as text', 5000);
  upper.child.kill('SIGTERM');
  t.equal((await within(upper.done, 5000, 'subscribe exits')).code, 0);
});

t.test('usage errors exit 2, --help exits 0, and main lists both commands', { skip }, async (t) => {
  for (const args of [
    ['publish', 'news.'],
    ['publish', 'news', '{x'],
    ['publish', 'a', '1', '--event', 'bad event'],
    ['subscribe'],
    ['subscribe', 'a..b'],
    ['subscribe', 'a', '--answer', '--exec', 'cat'],
    ['subscribe', 'a', '--exec-timeout', '0'],
  ]) {
    const ran = await cli(args);
    t.equal(ran.code, 2, args.join(' '));
    t.match(ran.stderr, new RegExp(`usage: switchboard ${args[0]}`));
  }
  t.match((await cli(['publish', '--help'])).stdout, /exit codes: 0 published/);
  t.equal((await cli(['subscribe', '--help'])).code, 0);
  const main = await cli(['help']);
  t.match(main.stdout, /switchboard publish +publish to a topic/);
  t.match(main.stdout, /switchboard subscribe +print what is published/);
});

t.test('in process: publish prints the count or the answer, and maps failures to exit codes', async (t) => {
  const { broker, url } = await startBroker(t);
  const sub = await readyClient(t, url, { name: 'sub' });
  const got: unknown[] = [];
  await sub.subscribe('a', (message, ctx) => {
    got.push([message, ctx.event]);
    return 'seen';
  });
  t.same(await inProcess(publish, ['a.b', '[1]', '--url', url, '--event', 'e1']), { code: 0, stdout: '1\n', stderr: '' });
  t.same((await inProcess(publish, ['a', '2', '--url', url, '--request'])).stdout, '"seen"\n');
  t.same(got, [[[1], 'e1'], [2, undefined]]);
  t.equal((await inProcess(publish, ['zzz', '1', '--url', url, '--request'])).code, EXIT_CODES.no_responders);
  t.equal((await inProcess(publish, ['a', '1', '--url', 'http://nope'])).code, EXIT_CODES.usage, 'a bad URL is a usage error');
  t.equal((await inProcess(publish, ['a', '1', '--timeout', 'soon'])).code, EXIT_CODES.usage);
  t.equal((await inProcess(publish, ['--help'])).code, 0);
  await sub.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('in process: publish --gather prints a result per subscriber reached; --request and --gather exclude each other', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await readyClient(t, url, { name: 'sub-a' });
  await a.subscribe('jobs', (message) => ({ a: message }));
  const b = await readyClient(t, url, { name: 'sub-b' });
  await b.subscribe('jobs.render', () => 'b done');
  const ran = await inProcess(publish, ['jobs.render', '1', '--url', url, '--gather']);
  t.equal(ran.code, 0);
  const results = (JSON.parse(ran.stdout) as Array<{ from: string }>).sort((x, y) => x.from.localeCompare(y.from));
  t.same(results, [
    { from: 'sub-a', message: { a: 1 } },
    { from: 'sub-b', message: 'b done' },
  ]);
  t.equal((await inProcess(publish, ['nobody', '1', '--url', url, '--gather'])).code, EXIT_CODES.no_responders);
  const both = await inProcess(publish, ['jobs', '1', '--url', url, '--gather', '--request']);
  t.equal(both.code, EXIT_CODES.usage);
  t.match(both.stderr, '--request and --gather exclude each other');
  await Promise.all([a.close(), b.close()]);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('in process: subscribe refuses bad usage and stops with the code of name_taken when its name is taken', async (t) => {
  const { url } = await startBroker(t);
  await readyClient(t, url, { name: 'held' });
  t.equal((await inProcess(subscribe, [])).code, 2);
  t.equal((await inProcess(subscribe, ['a', 'b'])).code, 2);
  t.equal((await inProcess(subscribe, ['bad topic'])).code, 2);
  t.equal((await inProcess(subscribe, ['a', '--name', 'bad name'])).code, 2);
  t.equal((await inProcess(subscribe, ['--help'])).code, 0);
  const taken = await inProcess(subscribe, ['a', '--url', url, '--name', 'held']);
  t.equal(taken.code, EXIT_CODES.name_taken);
  t.match(taken.stderr, 'name_taken');
});
