/**
 * Typed services in the client (protocol.md section 14, lib/client/services.ts): `serve` validates each
 * request before the handler and each answer before it leaves, a stub's methods return typed promises and
 * validate answers, any plain client calls a method by its event, and `services()` lists what the broker
 * measured. Over a real broker and real sockets.
 */
import t from 'tap';
import Type from 'typebox';
import { defineService, SwitchboardError } from '../../lib/client/node.js';
import { startBroker } from '../fixtures/broker.js';
import { nextEvent, readyClient, rejection, until } from '../fixtures/clients.js';
import { Peer } from '../fixtures/peer.js';

const Calc = defineService({
  version: '1.2.0',
  description: 'arithmetic',
  methods: {
    add: { request: Type.Object({ a: Type.Number(), b: Type.Number() }), answer: Type.Number(), errors: ['overflow'] },
    greet: { request: Type.String(), answer: Type.Object({ text: Type.String() }) },
  },
});

t.test('a typed service called from a typed stub answers typed values [SB-14-2]', async (t) => {
  const { url } = await startBroker(t);
  const server = await readyClient(t, url);
  await server.serve(Calc, 'calc', {
    add: async ({ a, b }) => a + b,
    greet: (name) => ({ text: `hello ${name}` }),
  });
  const caller = await readyClient(t, url);
  const calc = caller.service(Calc, 'calc');
  const sum: number = await calc.add({ a: 1, b: 2 });
  t.equal(sum, 3);
  const greeting: { text: string } = await calc.greet('ada');
  t.same(greeting, { text: 'hello ada' });
  // @ts-expect-error: the stub's request is typed by the method's request schema
  const wrong = calc.add({ a: 'one', b: 2 });
  t.match(await rejection(wrong), { code: 'responder_error', remoteCode: 'bad_request' }, 'and checked at the server too');
});

t.test('a bad request is refused with bad_request before the handler runs [SB-14-3]', async (t) => {
  const { url } = await startBroker(t);
  const server = await readyClient(t, url);
  let runs = 0;
  await server.serve(Calc, 'calc', {
    add: ({ a, b }) => (runs++, a + b),
    greet: (name) => ({ text: name }),
  });
  const plain = await readyClient(t, url);
  const error = await rejection(plain.request('calc', { a: 1 }, { event: 'add' }));
  t.match(error, { code: 'responder_error', remoteCode: 'bad_request', from: 'calc' });
  t.match(error.remoteMessage, /calc\.add: the request does not match its schema/);
  t.equal(runs, 0, 'the handler never ran');
  t.same((await plain.request('calc', { a: 1, b: 41 }, { event: 'add' })).message, 42, 'a plain client calls a method by its event');
  t.equal(runs, 1);
});

t.test('a bad answer is not sent: the caller gets bad_answer and the server an error event [SB-14-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const server = await readyClient(t, url);
  await server.serve(Calc, 'calc', {
    // @ts-expect-error: the implementation is checked against the answer schema's type
    add: () => 'not a number',
    greet: (name) => ({ text: name }),
  });
  const reported = nextEvent<[SwitchboardError]>(server, 'error');
  const peer = await Peer.named(url, 'raw');
  peer.send({ action: 'send', dest: 'calc', message: { a: 1, b: 2 }, ack: 'r1', event: 'add' });
  const answer = await peer.next((f) => f.action === 'answer');
  t.match(answer, { ack: 'r1', from: 'calc', error: { code: 'bad_answer' } });
  t.notOk('message' in answer, 'the bad value never left the server');
  const [error] = await reported;
  t.match(error, { code: 'bad_answer', message: /calc\.add: the handler's answer does not match its schema/ });
  t.match(broker.services.info('calc', 1)?.stats, { requests: 1, errors: 1 });
  await peer.close();
});

t.test('a stub rejects with bad_answer when the answer fails its schema', async (t) => {
  const { url } = await startBroker(t);
  const liar = await readyClient(t, url, { name: 'calc' });
  liar.handle(() => 'three', { event: 'add' });
  const caller = await readyClient(t, url);
  const error = await rejection(caller.service(Calc, 'calc').add({ a: 1, b: 2 }));
  t.match(error, { code: 'bad_answer', from: 'calc' });
});

t.test('services() lists the announced contract, members and stats; announced again after a reconnect [SB-14-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await readyClient(t, url);
  const b = await readyClient(t, url);
  const impl = { add: ({ a, b }: { a: number; b: number }) => a + b, greet: (name: string) => ({ text: name }) };
  await a.serve(Calc, 'calc', impl, { shared: true });
  await b.serve(Calc, 'calc', impl, { shared: true });
  const caller = await readyClient(t, url);
  await caller.service(Calc, 'calc').add({ a: 2, b: 2 });
  const [listed] = await caller.services();
  t.match(listed, { id: 'calc', version: '1.2.0', description: 'arithmetic', members: 2, stats: { requests: 1, errors: 0, methods: { add: { requests: 1 } } } });
  t.same(listed.methods.add.request, { type: 'object', required: ['a', 'b'], properties: { a: { type: 'number' }, b: { type: 'number' } } }, 'as plain JSON Schema');
  t.same(listed.methods.add.errors, ['overflow']);

  const solo = await readyClient(t, url);
  await solo.serve(Calc, 'solo', impl);
  t.same((await caller.services('solo')).map((s) => s.id), ['solo']);
  for (const session of broker.namedSessions()) if (session.names.has('solo')) session.close(1012, 'restart');
  await until(() => broker.services.version('solo') === undefined, 'contract gone with its holder');
  await nextEvent(solo, 'ready', 5000);
  await until(() => broker.services.version('solo') === '1.2.0', 'announced again after the reconnect');
  t.same((await caller.service(Calc, 'solo').add({ a: 1, b: 1 })), 2);
});

t.test('defineService refuses a method name with a dot', async (t) => {
  t.throws(() => defineService({ version: '1', methods: { 'a.b': { request: Type.Null(), answer: Type.Null() } } }), { code: 'invalid_argument' });
});
