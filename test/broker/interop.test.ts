/**
 * Interop: the real wsmsgbroker 1.7.2 client, unchanged, against switchboard, running the same flows
 * that package's own test suite runs against its own server (its test/test_client.js).
 */
import t from 'tap';
import { createRequire } from 'node:module';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';

const require = createRequire(import.meta.url);
interface LegacyClient {
  id: string;
  on(event: string, listener: (...args: any[]) => void): void;
  off(event: string, listener: (...args: any[]) => void): void;
  send(message: unknown, dest: string | string[], callback?: (from: string, answer: unknown) => void): void;
  unregister(): void;
  close(): void;
}
const WSMsgBroker = require('wsmsgbroker') as new (id: string, host: string, port: number, path?: string) => LegacyClient;

function within<T>(ms: number, what: string, executor: (resolve: (value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    executor((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

async function client(id: string, port: number): Promise<LegacyClient> {
  const c = new WSMsgBroker(id, '127.0.0.1', port);
  c.on('error', (error: Error) => {
    throw error; // as in wsmsgbroker's own tests: any error event fails the run
  });
  await within<void>(2000, `${id} registered`, (resolve) => c.on('registered', () => resolve()));
  return c;
}

t.test('the wsmsgbroker 1.7.2 client works against switchboard unchanged', async (t) => {
  const { broker, port } = await startBroker(t);
  const client0 = await client('client0', port);
  const client1 = await client('client1', port);

  await t.test('send with a callback gets the answer [SB-6-7]', async (t) => {
    client1.on('message', function fooHandler(msg: unknown, sender: { send(answer: unknown): void }) {
      t.same(msg, [5, 3]);
      sender.send('bar');
      client1.off('message', fooHandler);
    });
    const [from, answer] = await within<[string, unknown]>(2000, 'answer', (resolve) =>
      client0.send([5, 3], 'client1', (from, answer) => resolve([from, answer])),
    );
    t.equal(from, 'client1');
    t.equal(answer, 'bar');
  });

  await t.test('send without a callback to a known and an unknown name reaches the known one [SB-4.3-2]', async (t) => {
    const received = within<unknown[]>(2000, 'message', (resolve) => {
      client1.on('message', function potato(msg: unknown, response: unknown) {
        client1.off('message', potato);
        resolve([msg, response]);
      });
    });
    client0.send('potato', ['client1', 'wrong']);
    const [msg, response] = await received;
    t.equal(msg, 'potato');
    t.equal(response, undefined, 'no response object for a message without ack');
  });

  await t.test('two destinations: the first answer wins, the other is dropped [SB-6-7]', async (t) => {
    const client2 = await client('client2', port);
    for (const c of [client1, client2]) {
      c.on('message', function fooHandler(_msg: unknown, sender: { send(answer: unknown): void }) {
        sender.send({ bar: c.id });
        c.off('message', fooHandler);
      });
    }
    let calls = 0;
    const [from, answer] = await within<[string, { bar: string }]>(2000, 'first answer', (resolve) =>
      client0.send({ foo: 'bar' }, ['client1', 'client2'], (from, answer) => {
        calls++;
        resolve([from, answer as { bar: string }]);
      }),
    );
    t.ok(from === 'client1' || from === 'client2');
    t.equal(answer.bar, from);
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.equal(calls, 1, 'the callback ran once: the later answer was dropped');
    t.ok(broker.stats().lateAnswers >= 1, 'the dropped answer was counted');
    client2.close();
  });

  await t.test('unregister is confirmed with unregistered [SB-4.2-1]', async (t) => {
    const id = await within<string>(2000, 'unregistered', (resolve) => {
      client1.on('unregistered', (id: string) => resolve(id));
      client1.unregister();
    });
    t.equal(id, 'client1');
  });

  client0.close();
  client1.close();
  t.same(await drained(broker), NOTHING_HELD);
});
