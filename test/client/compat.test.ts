/**
 * The wsmsgbroker drop-in (lib/client/compat.ts): wsmsgbroker's own README example and its own client
 * test, run unchanged through it; the errors and reconnects it adds; and a real wsmsgbroker 1.7.2
 * client (legacy dialect) talking to it through the broker.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Broker } from '../../lib/broker/index.js';
import { WSMsgBroker, type SwitchboardError } from '../../lib/client/node.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { collect } from '../fixtures/cli.js';
import { nextEvent, until, within, WAIT_MS } from '../fixtures/clients.js';

const require = createRequire(import.meta.url);

/**
 * A drop-in class for one test: whatever host and port the program names, it connects to the test's
 * broker (the README example says localhost:9042), retries fast, and is closed at the end of the test.
 */
function tracked(t: Test, port: number) {
  const made: WSMsgBroker[] = [];
  class Tracked extends WSMsgBroker {
    /** Every `error` event, when `record` is on (it listens, so errors are not dropped). */
    readonly errors: SwitchboardError[] = [];
    constructor(id: string, _host: string, _port: number, path?: string, record = false) {
      super(id, '127.0.0.1', port, path, { reconnect: { initialDelayMs: 20, factor: 1, jitter: 0 } });
      if (record) this.on('error', (error) => this.errors.push(error));
      made.push(this);
    }
  }
  t.teardown(() => Promise.all(made.map((c) => c.client.close())));
  return { Tracked, made };
}

t.test("wsmsgbroker's README example runs unchanged through the drop-in", async (t) => {
  const readme = readFileSync(require.resolve('wsmsgbroker/README.md'), 'utf8');
  const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  t.ok(example?.includes("new WSMsgBroker('client0', 'localhost', 9042, 'foo')"), 'found the example');
  const { broker, port } = await startBroker(t, { path: '/foo' });
  const { Tracked, made } = tracked(t, port);
  class Recording extends Tracked {
    constructor(id: string, host: string, p: number, path?: string) {
      super(id, host, p, path, true);
    }
  }
  const lines: string[] = [];
  const run = new Function('require', 'console', example!);
  run((id: string) => (id === 'wsmsgbroker' ? Recording : require(id)), { log: (line: string) => lines.push(line) });
  await until(() => lines.length === 3, 'the three lines of the example');
  t.same(lines, [
    'client1 received > Hi there',
    'client0 received an answer from client1 > Hi to you too, sir.',
    'client1 received > [object Object]',
  ]);
  t.equal(broker.stats().names, 2);
  // The example calls response.send() for a message sent without callback, where response is absent
  // (in wsmsgbroker too): the drop-in reports that as an error event of client1, like wsmsgbroker did.
  const client1 = (made as Recording[]).find((c) => c.id === 'client1')!;
  await until(() => client1.errors.length === 1, 'the error of the example is reported');
  t.match(client1.errors[0], { code: 'handler_error', cause: TypeError });
});

t.test("wsmsgbroker's own client test passes against the drop-in", async (t) => {
  const { port } = await startBroker(t);
  const { Tracked: Client } = tracked(t, port);
  const fail = (e: Error) => t.fail(e.message);
  const registered = (c: WSMsgBroker) => nextEvent(c, 'registered');

  const client0 = new Client('client0', 'localhost', port);
  client0.on('error', fail);
  const client1 = new Client('client1', 'localhost', port);
  client1.on('error', fail);
  await Promise.all([registered(client0), registered(client1)]);

  // should send [5, 3] to "client1" and get a "bar" answer
  const bar = new Promise<[string, unknown]>((resolve) => {
    client1.on('message', function fooHandler(_msg, sender) {
      sender!.send('bar');
      client1.off('message', fooHandler);
    });
    client0.send([5, 3], 'client1', (from, answer) => resolve([from, answer]));
  });
  t.same(await within(bar, WAIT_MS, 'answer'), ['client1', 'bar']);

  // should send "potato" to "client1" and "wrong" (not registered: does nothing)
  const potato = new Promise<[unknown, unknown]>((resolve) => {
    client1.on('message', function fooHandler(msg, sender) {
      client1.off('message', fooHandler);
      resolve([msg, sender]);
    });
    client0.send('potato', ['client1', 'wrong']);
  });
  t.same(await within(potato, WAIT_MS, 'potato'), ['potato', undefined], 'no response object without a callback');

  // should send {foo: "bar"} to "client1" & "client2" and get {bar: <id>} from the fastest
  const client2 = new Client('client2', 'localhost', port);
  client2.on('error', fail);
  await registered(client2);
  for (const c of [client1, client2]) {
    c.on('message', function fooHandler(_msg, sender) {
      sender!.send({ bar: c.id });
      c.off('message', fooHandler);
    });
  }
  const fastest = new Promise<[string, unknown]>((resolve) => client0.send({ foo: 'bar' }, ['client1', 'client2'], (from, answer) => resolve([from, answer])));
  const [from, answer] = await within(fastest, WAIT_MS, 'fastest answer');
  t.ok(from === 'client1' || from === 'client2');
  t.same(answer, { bar: from });
});

t.test('the drop-in reports failed requests as coded errors instead of waiting forever', async (t) => {
  const { port } = await startBroker(t);
  const { Tracked } = tracked(t, port);
  const c = new Tracked('lonely', 'localhost', port);
  await nextEvent(c, 'registered');
  const error = nextEvent<[SwitchboardError]>(c, 'error');
  c.send('anyone?', 'nobody', () => t.fail('no answer expected'));
  t.match((await error)[0], { code: 'no_responders', dest: 'nobody' });
  c.off('error');
  c.send('again', 'nobody', () => t.fail('no answer expected')); // no listener: dropped, not thrown
  const mute = new Tracked('mute', 'localhost', port); // no "message" listener
  await nextEvent(mute, 'registered');
  const refused = nextEvent<[SwitchboardError]>(c, 'error');
  c.send('hello', 'mute', () => t.fail('no answer expected'));
  t.match((await refused)[0], { code: 'responder_error', remoteCode: 'no_handler' });
  t.throws(() => c.send('x', 'mute', 'not a function' as never), TypeError);
});

t.test('the drop-in on a path the broker does not serve emits error (HTTP 404), then close, as wsmsgbroker did', async (t) => {
  const { broker, port } = await startBroker(t); // it serves "/", not the README's "foo"
  const { Tracked } = tracked(t, port);
  const c = new Tracked('client0', 'localhost', port, 'foo', true);
  const order: string[] = [];
  c.on('error', () => order.push('error'));
  c.on('close', () => order.push('close'));
  await nextEvent(c, 'close');
  t.match(c.errors, [{ code: 'unreachable', message: /HTTP 404/ }]);
  t.same(order, ['error', 'close']);
  t.equal(c.client.status, 'closed', 'not retried');
  t.equal(broker.stats().connections, 0);
});

t.test('the drop-in on a path the broker does not serve, with no error listener, throws the 404 as wsmsgbroker did', async (t) => {
  const { port } = await startBroker(t);
  const program = `import { WSMsgBroker } from './lib/client/node.ts'; new WSMsgBroker('client0', '127.0.0.1', ${port}, 'foo');`;
  const child = spawn(process.execPath, ['--import=@tapjs/typescript/import', '--input-type=module', '--eval', program], {
    cwd: new URL('../../', import.meta.url),
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = collect(child);
  t.teardown(() => void child.kill('SIGKILL'));
  const ran = await within(done, 30_000, 'the program ends');
  t.equal(ran.code, 1, 'an uncaught exception');
  t.match(ran.stderr, /SwitchboardError: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/foo: .*HTTP 404/);
});

t.test('the drop-in reconnects after a broker restart: registered once, answers still flow', async (t) => {
  const first = new Broker({ host: '127.0.0.1', port: 0, shutdownGraceMs: 0 });
  const { port } = await first.listen();
  t.teardown(() => first.close());
  const { Tracked } = tracked(t, port);
  const a = new Tracked('a', '127.0.0.1', port);
  const b = new Tracked('b', '127.0.0.1', port);
  let registeredEvents = 0;
  b.on('registered', () => registeredEvents++);
  b.on('message', (msg, response) => response?.send(`b got ${String(msg)}`));
  await Promise.all([nextEvent(a, 'registered'), nextEvent(b, 'registered')]);
  const back = Promise.all([nextEvent(a, 'ready', 5000), nextEvent(b, 'ready', 5000)]);
  await first.close();
  const second = new Broker({ host: '127.0.0.1', port });
  await second.listen();
  t.teardown(() => second.close());
  await back;
  const answer = await within(new Promise((resolve) => a.send(1, 'b', (from, msg) => resolve([from, msg]))), WAIT_MS, 'answer');
  t.same(answer, ['b', 'b got 1']);
  t.equal(registeredEvents, 1, '"registered" is not emitted again after a reconnect');
});

t.test('unregister() emits unregistered with the id; close() emits close', async (t) => {
  const { broker, port } = await startBroker(t);
  const { Tracked } = tracked(t, port);
  const c = new Tracked('leaving', 'localhost', port);
  await nextEvent(c, 'registered');
  const unregistered = nextEvent(c, 'unregistered');
  c.unregister();
  t.same(await unregistered, ['leaving']);
  t.same(c.client.names, [], 'not registered again after a reconnect');
  const closed = nextEvent(c, 'close');
  c.close();
  await closed;
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a real wsmsgbroker 1.7.2 client and the drop-in talk to each other through the broker', async (t) => {
  const { broker, port } = await startBroker(t);
  const Legacy = require('wsmsgbroker') as new (id: string, host: string, port: number) => {
    on(event: string, listener: (...args: never[]) => void): void;
    send(message: unknown, dest: string, callback?: (from: string, answer: unknown) => void): void;
    close(): void;
  };
  const { Tracked } = tracked(t, port);
  const modern = new Tracked('modern', '127.0.0.1', port);
  modern.on('message', (msg, response) => response?.send({ modern: msg }));
  const legacy = new Legacy('legacy', '127.0.0.1', port);
  legacy.on('error', (e: Error) => t.fail(`legacy client error: ${e.message}`));
  legacy.on('message', ((msg: unknown, response?: { send(a: unknown): void }) => response?.send({ legacy: msg })) as never);
  t.teardown(() => legacy.close());
  await Promise.all([nextEvent(modern, 'registered'), within(new Promise((r) => legacy.on('registered', r as never)), WAIT_MS, 'legacy registered')]);
  const fromModern = await within(new Promise((resolve) => legacy.send(1, 'modern', (from, answer) => resolve([from, answer]))), WAIT_MS, 'legacy -> modern');
  t.same(fromModern, ['modern', { modern: 1 }]);
  const fromLegacy = await within(new Promise((resolve) => modern.send(2, 'legacy', (from, answer) => resolve([from, answer]))), WAIT_MS, 'modern -> legacy');
  t.same(fromLegacy, ['legacy', { legacy: 2 }]);
  legacy.close();
  modern.close();
  t.same(await drained(broker), NOTHING_HELD);
});
