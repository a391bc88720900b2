/**
 * Attacks on authentication and authorization (robustness.md, "Handshake and transport"; protocol.md
 * sections 4.1 and 4.5): hostile tokens, names that try to slip through permission patterns, tokens
 * that must never reach a log line, and a takeover storm. The policy is tokenPolicy from hashed tokens.
 */
import t from 'tap';
import { sha256, tokenPolicy, type Logger } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const isError = (f: Frame) => f.action === 'error';

const hash = (token: string) => sha256(token).toString('hex');
const TOKENS = { calc: 'calc-token-3b9f', web: 'web-token-81c2', victim: 'victim-token-0d4e' };
const policy = tokenPolicy([
  { id: 'calc', tokenSha256: hash(TOKENS.calc), permissions: { register: ['calc.*'], send: [] } },
  { id: 'web', tokenSha256: hash(TOKENS.web), permissions: { register: ['web-*'], send: ['calc.*', 'victim-*'] } },
  { id: 'victim', tokenSha256: hash(TOKENS.victim), permissions: { register: ['victim-*'], send: ['victim-*'] } },
]);

async function authed(url: string, token: string): Promise<Peer> {
  const peer = await Peer.connect(url);
  peer.send({ action: 'auth', token });
  const answer = await peer.next();
  if (answer.action !== 'authenticated') throw new Error(`auth failed: ${JSON.stringify(answer)}`);
  return peer;
}

/** A victim pair that authenticated as `victim`. */
async function authedVictim(url: string) {
  const responder = await authed(url, TOKENS.victim);
  responder.send({ action: 'register', id: 'victim-responder' });
  await responder.next((f) => f.action === 'registered');
  responder.ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as { action: string; ack?: string };
    if (f.action === 'message' && f.ack !== undefined) responder.send({ action: 'answer', ack: f.ack, message: 'ok' });
  });
  const requester = await authed(url, TOKENS.victim);
  requester.send({ action: 'register', id: 'victim-requester' });
  await requester.next((f) => f.action === 'registered');
  let n = 0;
  return {
    async works(): Promise<boolean> {
      const ack = `v${++n}`;
      requester.send({ action: 'send', dest: 'victim-responder', message: n, ack });
      const answer = await requester.next((f) => f.ack === ack).catch(() => undefined);
      return answer?.action === 'answer' && answer.message === 'ok';
    },
    close: () => Promise.all([responder.close(), requester.close()]),
  };
}

t.test('hostile tokens are unauthorized and close the connection; nothing else is affected [SB-4.5-2]', async (t) => {
  const lines: string[] = [];
  const logger: Logger = { info: (...a) => lines.push(JSON.stringify(a)), warn: (...a) => lines.push(JSON.stringify(a)), error: (...a) => lines.push(JSON.stringify(a)) };
  const { broker, url } = await startBroker(t, { auth: policy, logger });
  const victim = await authedVictim(url);
  const hostile = [
    '__proto__',
    'constructor',
    'toString',
    hash(TOKENS.calc), // the stored hash is not the token
    TOKENS.calc.toUpperCase(),
    `${TOKENS.calc}\u0000`,
    ` ${TOKENS.calc}`,
    '\ud800',
    `${TOKENS.calc.slice(0, -1)}\udfff`,
    'a'.repeat(4096),
  ];
  for (const token of hostile) {
    const peer = await Peer.connect(url);
    peer.send({ action: 'auth', token });
    t.match(await peer.next(isError), { action: 'error', code: 'unauthorized' }, `token ${JSON.stringify(token.slice(0, 20))}`);
    t.match(await peer.closed(), { code: 1008 });
  }
  const tooLong = await Peer.connect(url);
  tooLong.send({ action: 'auth', token: 'a'.repeat(4097) });
  const refusal = await tooLong.next().catch(() => undefined);
  t.ok(refusal === undefined || refusal.code === 'bad_frame' || refusal.code === 'unauthorized', `a token over 4096 characters: ${JSON.stringify(refusal)}`);
  tooLong.ws.terminate();
  t.ok(await victim.works(), 'the victim still does request/answer');
  t.equal(broker.stats().names, 2, 'only the victim holds names');
  const secrets = [...Object.values(TOKENS), ...hostile.filter((s) => s.length > 12)];
  t.same(lines.filter((line) => secrets.some((s) => line.includes(s))), [], 'no token reached a log line');
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a token in the URL query authenticates nothing and is never logged', async (t) => {
  const lines: string[] = [];
  const logger: Logger = { info: (...a) => lines.push(JSON.stringify(a)), warn: (...a) => lines.push(JSON.stringify(a)), error: (...a) => lines.push(JSON.stringify(a)) };
  const { broker, url } = await startBroker(t, { auth: policy, logger });
  const peer = await Peer.connect(`${url}?token=${TOKENS.calc}`);
  peer.send({ action: 'register', id: 'calc.x' });
  t.match(await peer.next(isError), { action: 'error', code: 'unauthorized' }, 'a token in the URL is not a credential [SB-4.5-2]');
  await peer.closed();
  t.same(lines.filter((line) => line.includes(TOKENS.calc)), []);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('names cannot slip through permission patterns: patterns are literal but for * [SB-4.5-3]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policy });
  const calc = await authed(url, TOKENS.calc);
  const cases: Array<[string, boolean]> = [
    ['calc.add', true],
    ['calc.', true],
    ['calc.a/b:c@d~e', true],
    ['calcX', false], // "." is literal, not "any character"
    ['calc', false],
    ['xcalc.add', false], // anchored at the start
    ['__proto__', false],
    ['constructor', false],
    ['web-1', false],
  ];
  for (const [name, allowed] of cases) {
    calc.send({ action: 'register', id: name });
    const answer = await calc.next();
    if (allowed) t.same(answer, { action: 'registered', id: name }, `${name} is allowed`);
    else t.match(answer, { action: 'error', code: 'forbidden', id: name }, `${name} is forbidden`);
    if (allowed) {
      calc.send({ action: 'unregister', id: name });
      await calc.next();
    }
  }
  const web = await authed(url, TOKENS.web);
  web.send({ action: 'register', id: 'web-__proto__' });
  t.same(await web.next(), { action: 'registered', id: 'web-__proto__' }, 'a prototype key inside an allowed pattern is just a name');
  calc.send({ action: 'register', id: 'calc.add' });
  await calc.next();
  for (const [dest, allowed] of [['calc.add', true], ['calcXadd', false], ['__proto__', false], ['web-__proto__', false]] as const) {
    web.send({ action: 'send', dest, message: 1, ack: `to-${dest}`, ref: `ref-${dest}`, timeout: 1000 });
    const answer = await web.next((f) => f.ack === `to-${dest}`);
    if (allowed) t.match(answer, { action: 'sent', delivered: [dest] }, `send to ${dest} is allowed`);
    else t.match(answer, { action: 'error', code: 'forbidden', id: dest, ack: `to-${dest}`, ref: `ref-${dest}` }, `send to ${dest} is forbidden`);
  }
  const delivered = await calc.next((f) => f.action === 'message');
  t.match(delivered, { from: 'web-__proto__' }, 'only the allowed send was delivered');
  calc.send({ action: 'answer', ack: delivered.ack as string, message: 'fine' });
  t.match(await web.next((f) => f.action === 'answer'), { message: 'fine' });
  t.same(await calc.quiet(30), [], 'nothing forbidden reached calc');
  await calc.close();
  await web.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('takeover storm: ten connections of one identity take one name over and over; never two holders [SB-4.1-6] [SB-3-2]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policy });
  let holders = 0;
  let max = 0;
  broker.on('registered', (name) => name === 'calc.hot' && (max = Math.max(max, ++holders)));
  broker.on('unregistered', (name) => name === 'calc.hot' && holders--);
  const peers = await Promise.all(Array.from({ length: 10 }, () => authed(url, TOKENS.calc)));
  for (let round = 0; round < 3; round++) {
    const alive = peers.filter((p) => p.ws.readyState === p.ws.OPEN);
    for (const p of alive) p.send({ action: 'register', id: 'calc.hot', takeover: true });
    await Promise.all(alive.map((p) => p.next((f) => f.action === 'registered' || f.action === 'error').catch(() => undefined)));
  }
  const stillOpen = peers.filter((p) => p.ws.readyState === p.ws.OPEN);
  const closes = await Promise.all(peers.filter((p) => !stillOpen.includes(p)).map((p) => p.closed()));
  t.equal(max, 1, 'never two holders at once');
  t.equal(broker.stats().names, 1, 'one holder at the end');
  t.ok(closes.every((c) => c.code === 4009 && c.reason === 'taken over: calc.hot'), 'every loser was closed with 4009 and the reason');
  const web = await authed(url, TOKENS.web);
  web.send({ action: 'register', id: 'calc.hot', takeover: true });
  t.match(await web.next(isError), { action: 'error', code: 'forbidden' }, 'another identity cannot even try');
  await Promise.all([...stillOpen, web].map((p) => p.close()));
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('an unauthenticated flood is closed at its first frame and leaves a victim working [SB-4.5-2]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policy });
  const victim = await authedVictim(url);
  const flooders = await Promise.all(Array.from({ length: 20 }, () => Peer.connect(url)));
  for (const f of flooders) for (let i = 0; i < 50; i++) f.send({ action: 'send', dest: 'victim-responder', message: i, ack: `x${i}` });
  const closes = await Promise.all(flooders.map((f) => f.closed()));
  t.ok(closes.every((c) => c.code === 1008), 'every flooder was closed with 1008');
  t.ok(await victim.works(), 'the victim still does request/answer');
  t.equal(broker.stats().pending, 0, 'no flooder request was ever accepted');
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
});
