/**
 * The CLI pair, as a user runs it: `node dist/cli/main.js answer ...` in one process and
 * `node dist/cli/main.js request ...` in another, against a real broker. Checks the printed answer and
 * every documented exit code. Needs a build (`npm test` builds first; skipped with the reason otherwise).
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EXIT_CODES, MAX_STDIN_BYTES, formatMessage, readMessage } from '../../lib/cli/client-command.js';
import { run as request } from '../../lib/cli/request.js';
import { run as answer } from '../../lib/cli/answer.js';
import { readyClient } from '../fixtures/clients.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { cli, collect, inProcess, type Ran } from '../fixtures/cli.js';
import { built, CLI, freePort, spawnBroker } from '../fixtures/broker-process.js';
import { until, within } from '../fixtures/clients.js';

const skip = built();

/** Start `switchboard answer name ...`; resolves once it serves. Stopped at teardown. */
async function answerer(t: Test, url: string, name: string, ...args: string[]): Promise<{ child: ChildProcess; done: Promise<Ran> }> {
  const child = spawn(process.execPath, [CLI, 'answer', name, '--url', url, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = collect(child);
  t.teardown(async () => {
    child.kill('SIGKILL');
    await done;
  });
  await within(
    new Promise<void>((resolve) => child.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('answering as') && resolve())),
    10_000,
    `answer ${name} ready`,
  );
  return { child, done };
}

t.test('answer serves a name, request prints the answer as JSON and exits 0', { skip }, async (t) => {
  const { url } = await startBroker(t);
  await answerer(t, url, 'echo');
  const ran = await cli(['request', 'echo', '{"add":[1,2]}', '--url', url]);
  t.equal(ran.code, 0, ran.stderr);
  t.same(JSON.parse(ran.stdout), { add: [1, 2] });
});

t.test('answer --exec answers with the command output, fed the message on stdin', { skip }, async (t) => {
  const { url } = await startBroker(t);
  await answerer(t, url, 'upper', '--exec', 'tr a-z A-Z');
  await answerer(t, url, 'who', '--exec', 'printf "%s" "$SWITCHBOARD_FROM"');
  const upper = await cli(['request', 'upper', '"hello"', '--url', url]);
  t.equal(upper.code, 0, upper.stderr);
  t.equal(upper.stdout, '"HELLO"\n', 'JSON output is the answer');
  const who = await cli(['request', 'who', 'null', '--url', url, '--name', 'script-1']);
  t.equal(who.stdout, '"script-1"\n', 'text output is answered as a string; the sender is in SWITCHBOARD_FROM');
});

t.test('exit codes: 3 no_responders, 4 timeout, 6 responder_error', { skip }, async (t) => {
  const { url } = await startBroker(t);
  await answerer(t, url, 'sleepy', '--exec', 'sleep 5');
  await answerer(t, url, 'failing', '--exec', 'echo broken >&2; exit 3');
  const none = await cli(['request', 'nobody', '1', '--url', url]);
  t.equal(none.code, EXIT_CODES.no_responders);
  t.match(none.stderr, /^switchboard request: no_responders: /);
  const slow = await cli(['request', 'sleepy', '1', '--url', url, '--timeout', '300']);
  t.equal(slow.code, EXIT_CODES.timeout);
  t.match(slow.stderr, /timeout/);
  const failed = await cli(['request', 'failing', '1', '--url', url]);
  t.equal(failed.code, EXIT_CODES.responder_error);
  t.match(failed.stderr, /responder_error \(remote code exec_failed\): .*broken/);
});

/** A command for --exec that creates a marker file (the request has arrived), then sleeps. */
function arrivedThenSleep(t: Test): { command: string; arrived: () => boolean } {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const marker = join(dir, 'arrived');
  return { command: `touch '${marker}'; sleep 10`, arrived: () => existsSync(marker) };
}

t.test('exit code 5: the responder left before answering', { skip }, async (t) => {
  const { url } = await startBroker(t);
  const { command, arrived } = arrivedThenSleep(t);
  const { child } = await answerer(t, url, 'doomed', '--exec', command);
  const pending = cli(['request', 'doomed', '1', '--url', url, '--timeout', '20000']);
  await until(arrived, 'the request reached the responder', 15_000);
  child.kill('SIGKILL');
  const ran = await pending;
  t.equal(ran.code, EXIT_CODES.responder_gone, ran.stderr);
});

t.test('exit code 7: no broker to talk to, said at once', { skip }, async (t) => {
  const started = Date.now();
  const ran = await cli(['request', 'x', '1', '--url', `ws://127.0.0.1:${await freePort()}/`]);
  t.equal(ran.code, EXIT_CODES.unreachable);
  t.match(ran.stderr, /unreachable: .*ECONNREFUSED/);
  t.ok(Date.now() - started < 5000);
});

t.test('exit code 8: the broker died with the request in flight', { skip }, async (t) => {
  const proc = await spawnBroker(t, await freePort());
  const { command, arrived } = arrivedThenSleep(t);
  await answerer(t, proc.url, 'slowpoke', '--exec', command);
  const pending = cli(['request', 'slowpoke', '1', '--url', proc.url, '--timeout', '20000']);
  await until(arrived, 'the request reached the responder', 15_000);
  await proc.kill();
  const ran = await pending;
  t.equal(ran.code, EXIT_CODES.disconnected, ran.stderr);
});

t.test('exit code 2 for bad usage; --help exits 0; main lists both commands', { skip }, async (t) => {
  const ran = await cli(['request', 'x', '{not json']);
  t.equal(ran.code, EXIT_CODES.usage);
  t.match(ran.stderr, /usage: switchboard request/);
  const help = await cli(['request', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /exit codes: 0 answered, 1 other failure, 2 usage, 3 no_responders, 4 timeout/);
  const main = await cli(['help']);
  t.equal(main.code, 0);
  t.match(main.stdout, /switchboard request +send one request/);
  t.match(main.stdout, /switchboard answer +serve a name/);
});

t.test('as a new user meets it: --version, unknown command with a suggestion, no command, help on stdout', { skip }, async (t) => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const flag of ['--version', '-v', 'version']) {
    const ran = await cli([flag]);
    t.same([ran.code, ran.stdout, ran.stderr], [0, `${version}\n`, ''], flag);
  }
  const typo = await cli(['reqest', 'calc', '1']);
  t.equal(typo.code, EXIT_CODES.usage);
  t.match(typo.stderr, /^switchboard: unknown command "reqest"; did you mean "request"\?/);
  t.match(typo.stderr, /switchboard server +a running broker/, 'the commands are listed');
  const far = await cli(['frobnicate']);
  t.equal(far.code, EXIT_CODES.usage);
  t.match(far.stderr, /^switchboard: unknown command "frobnicate"\n/, 'no suggestion when nothing is close');
  const none = await cli([]);
  t.equal(none.code, EXIT_CODES.usage);
  t.match(none.stderr, /say which command/);
  const help = await cli(['--help']);
  t.same([help.code, help.stderr], [0, '']);
  t.match(help.stdout, /switchboard --version/);
});

t.test('one exit code for every usage error, whichever command', { skip }, async (t) => {
  const cases = [
    ['request', 'x'],
    ['request', 'x', '1', '--url', 'ws://h/', '--local', 'app'],
    ['request', 'x', '1', '--nope'],
    ['publish', 'a..b', '1'],
    ['answer'],
    ['answer', 'x', '--exec-timeout', 'soon'],
    ['subscribe', 'a', '--answer', '--exec', 'cat'],
    ['server'],
    ['server', 'report', 'everything'],
    ['server', 'check', '--monitor', 'ws://127.0.0.1:9043/'],
    ['server', 'kick'],
    ['token', 'extra'],
    ['spec'],
    ['spec', 'ws://h/', '--profile', 'nope'],
    ['serve', '--nope'],
    ['serve', '--port', 'many'],
    ['serve', '--peer-name', 'bad name'],
    ['config'],
    ['bench', '--nope'],
  ];
  for (const args of cases) {
    const ran = await cli(args);
    t.equal(ran.code, EXIT_CODES.usage, `switchboard ${args.join(' ')}: ${ran.stderr.split('\n')[0]}`);
  }
});

t.test('the message from stdin with -, and --raw for text: sent without JSON quoting, a string answer printed as its text', { skip }, async (t) => {
  const { url } = await startBroker(t);
  await answerer(t, url, 'echo');
  await answerer(t, url, 'upper', '--exec', 'tr a-z A-Z', '--raw');
  const piped = await cli(['request', 'echo', '-', '--url', url], { input: '{"add":[1,2]}\n' });
  t.same([piped.code, piped.stdout], [0, '{"add":[1,2]}\n'], piped.stderr);
  const raw = await cli(['request', 'echo', 'hello "world"', '--raw', '--url', url]);
  t.same([raw.code, raw.stdout], [0, 'hello "world"\n'], 'text in, text out');
  const rawPiped = await cli(['request', 'upper', '-', '--raw', '--url', url], { input: 'hello\n' });
  t.same([rawPiped.code, rawPiped.stdout], [0, 'HELLO\n'], 'stdin as text, without its newline; --exec --raw feeds and answers text');
  const quoted = await cli(['request', 'upper', '"hello"', '--url', url]);
  t.equal(quoted.stdout, '"HELLO"\n', 'without --raw the text answer prints as JSON');
  const notJson = await cli(['request', 'echo', '-', '--url', url], { input: 'hello' });
  t.equal(notJson.code, EXIT_CODES.usage);
  t.match(notJson.stderr, /stdin is not valid JSON \(--raw sends text\)/);
});

t.test('SWITCHBOARD_URL is the broker when --url is not given; --url wins over it', { skip }, async (t) => {
  const { url } = await startBroker(t);
  await answerer(t, url, 'echo');
  const fromEnv = await cli(['request', 'echo', '1'], { env: { SWITCHBOARD_URL: url } });
  t.same([fromEnv.code, fromEnv.stdout], [0, '1\n'], fromEnv.stderr);
  const flagWins = await cli(['request', 'echo', '1', '--url', url], { env: { SWITCHBOARD_URL: `ws://127.0.0.1:${await freePort()}/` } });
  t.equal(flagWins.code, 0, flagWins.stderr);
  const nowhere = await cli(['request', 'echo', '1'], { env: { SWITCHBOARD_URL: `ws://127.0.0.1:${await freePort()}/` } });
  t.equal(nowhere.code, EXIT_CODES.unreachable, 'the variable is used: nobody there');
});

t.test('answer exits at once on SIGTERM while an --exec command runs, and ends the command and its children', { skip }, async (t) => {
  const { url } = await startBroker(t);
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pids = join(dir, 'pids');
  // The shell starts a child and waits for it: both must be ended, or the answerer would wait for them.
  const { child, done } = await answerer(t, url, 'slow', '--exec', `sleep 60 & echo "$$ $!" > '${pids}'; wait`);
  const pending = cli(['request', 'slow', '1', '--url', url, '--timeout', '20000']);
  await until(() => existsSync(pids) && readFileSync(pids, 'utf8').includes(' '), 'the command runs', 10_000);
  const running = readFileSync(pids, 'utf8').trim().split(' ').map(Number);
  const started = Date.now();
  child.kill('SIGTERM');
  const ran = await within(done, 20_000, 'answer exits');
  t.equal(ran.code, 0, ran.stderr);
  // "At once" against the command's 60 s: seconds of slack for a busy machine.
  t.ok(Date.now() - started < 15_000, `exited in ${Date.now() - started} ms, not after the command's 60 s`);
  await until(() => running.every((pid) => !alive(pid)), 'the shell and its child are gone', 10_000);
  t.pass('the command and its child were ended');
  const asked = await pending;
  t.not(asked.code, 0, `the requester hears of it at once: ${asked.stderr.trim()}`);
});

/** A process that runs: not gone, and not a zombie left for a PID 1 that may not reap it (Linux's /proc). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

t.test('answer stops cleanly with exit 0 on SIGTERM, and exits with the code of name_taken when its name is taken', { skip }, async (t) => {
  const { url } = await startBroker(t);
  const { child, done } = await answerer(t, url, 'taken');
  const second = await cli(['answer', 'taken', '--url', url]);
  t.equal(second.code, EXIT_CODES.name_taken);
  t.match(second.stderr, /name_taken/);
  child.kill('SIGTERM');
  t.equal((await within(done, 5000, 'answer exits')).code, 0);
});

t.test('in process: request maps each outcome to its exit code and prints the answer', async (t) => {
  const { url } = await startBroker(t);
  const svc = await readyClient(t, url, { name: 'svc' });
  svc.handle((message) => {
    if (message === 'fail') throw Object.assign(new Error('no way'), { code: 'nope' });
    return message === 'hang' ? new Promise(() => {}) : { got: message };
  });
  const ok = await inProcess(request, ['svc,other', '[1,"two"]', '--url', url, '--name', 'cli-test']);
  t.same([ok.code, ok.stdout], [0, '{"got":[1,"two"]}\n'], 'several destinations, comma-separated');
  t.equal((await inProcess(request, ['nobody', '1', '--url', url])).code, EXIT_CODES.no_responders);
  t.equal((await inProcess(request, ['svc', '"hang"', '--url', url, '--timeout', '100'])).code, EXIT_CODES.timeout);
  const failed = await inProcess(request, ['svc', '"fail"', '--url', url]);
  t.equal(failed.code, EXIT_CODES.responder_error);
  t.match(failed.stderr, 'responder_error (remote code nope)');
  t.equal((await inProcess(request, ['svc', '1', '--url', 'http://nope'])).code, EXIT_CODES.usage, 'a bad URL is a usage error');
  t.equal((await inProcess(request, ['svc', '1', '--name', 'bad name', '--url', url])).code, EXIT_CODES.usage);
  t.equal((await inProcess(request, ['--help'])).code, 0);
  for (const args of [['x'], ['x', '{not json'], ['bad name', '1'], ['x', '1', '--timeout', 'soon'], ['x', '1', '--bogus']]) {
    const ran = await inProcess(request, args);
    t.equal(ran.code, EXIT_CODES.usage, args.join(' '));
    t.match(ran.stderr, /usage: switchboard request/);
  }
});

t.test('in process: request --name of a taken name exits with name_taken, not unreachable: the broker answered', async (t) => {
  const { url } = await startBroker(t);
  const calc = await readyClient(t, url, { name: 'calc' });
  let asked = 0;
  calc.handle(() => ++asked);
  const ran = await inProcess(request, ['calc', '1', '--url', url, '--name', 'calc']);
  t.equal(ran.code, EXIT_CODES.name_taken);
  t.not(ran.code, EXIT_CODES.unreachable);
  t.match(ran.stderr, /^switchboard request: name_taken: .*calc/);
  t.equal(asked, 0, 'nothing was sent');
});

t.test('in process: request --gather prints every destination\'s result as one JSON array, in the order given', async (t) => {
  const { broker, url } = await startBroker(t);
  const one = await readyClient(t, url, { name: 'one' });
  one.handle((message) => ({ one: message }));
  const two = await readyClient(t, url, { name: 'two' });
  two.handle(() => {
    throw Object.assign(new Error('busy'), { code: 'busy' });
  });
  const slow = await readyClient(t, url, { name: 'slow' });
  slow.handle(() => new Promise(() => {}));
  const ran = await inProcess(request, ['two,one,slow,nobody', '5', '--url', url, '--gather', '--timeout', '300']);
  t.equal(ran.code, 0, 'gathered, whatever each result');
  t.same(JSON.parse(ran.stdout), [
    { from: 'two', error: { code: 'busy', message: 'busy' } },
    { from: 'one', message: { one: 5 } },
    { from: 'slow', code: 'timeout' },
  ], 'a name nobody holds has no result');
  t.equal((await inProcess(request, ['nobody', '1', '--url', url, '--gather'])).code, EXIT_CODES.no_responders);
  await Promise.all([one.close(), two.close(), slow.close()]);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('in process: answer refuses bad usage and stops with the code of name_taken when its name is taken', async (t) => {
  const { url } = await startBroker(t);
  await readyClient(t, url, { name: 'held' });
  t.equal((await inProcess(answer, [])).code, 2);
  t.equal((await inProcess(answer, ['a', 'b'])).code, 2);
  t.equal((await inProcess(answer, ['a', '--exec-timeout', '0'])).code, 2);
  t.equal((await inProcess(answer, ['bad name', '--url', url])).code, 2);
  t.equal((await inProcess(answer, ['--help'])).code, 0);
  const taken = await inProcess(answer, ['held', '--url', url]);
  t.equal(taken.code, EXIT_CODES.name_taken);
  t.match(taken.stderr, 'name_taken');
});

t.test('in process: the message from a stream with -, bounded; --raw keeps text; answers printed as JSON or text', async (t) => {
  t.same(await readMessage('-', false, Readable.from(['{"a"', ':1}\n'])), { message: { a: 1 } });
  t.same(await readMessage('-', true, Readable.from(['two\nlines\n'])), { message: 'two\nlines' }, 'only the last newline goes');
  t.same(await readMessage('[1]', true), { message: '[1]' }, 'an argument with --raw is text');
  t.match(await readMessage('-', false, Readable.from(['nope'])), { problem: /^stdin is not valid JSON/ });
  t.match(await readMessage('-', true, Readable.from([Buffer.alloc(MAX_STDIN_BYTES), Buffer.alloc(1)])), { problem: /longer than 16777216 bytes/ });
  t.same([formatMessage('x', true), formatMessage('x', false), formatMessage({ a: 1 }, true)], ['x\n', '"x"\n', '{"a":1}\n']);
});

t.test('serve takes --durable-names (comma-separated or repeated) and --peer-name, as the README says', { skip }, async (t) => {
  const ran = await cli(['config', 'print', '--durable-names', 'jobs.*,mail.*', '--durable-names', 'audit', '--peer-name', 'hub']);
  t.equal(ran.code, 0, ran.stderr);
  t.match(JSON.parse(ran.stdout), { durableNames: ['jobs.*', 'mail.*', 'audit'], peerName: 'hub' });
  const help = await cli(['serve', '--help']);
  t.match(help.stdout, /--durable-names LIST/);
  t.match(help.stdout, /--peer-name NAME/);
});
