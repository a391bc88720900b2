/**
 * The logs of `switchboard serve`: the pino logger (JSON, or the small pretty format), redaction, and the
 * lifecycle lines made from a real broker's events (lib/cli/lifecycle.ts).
 */
import t from 'tap';
import { tokenPolicy, sha256 } from '../../lib/broker/index.js';
import { logLifecycle } from '../../lib/cli/lifecycle.js';
import { createLogger, prettyOutput } from '../../lib/cli/log.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { until } from '../fixtures/clients.js';
import { Peer } from '../fixtures/peer.js';

type Line = Record<string, unknown> & { msg: string; level: number };

function capture(level: 'info' | 'debug' = 'info') {
  const text: string[] = [];
  const logger = createLogger(level, 'json', { write: (s: string) => text.push(s) });
  const lines = () => text.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);
  return { logger, lines, text: () => text.join('') };
}

t.test('JSON lines carry pino fields; a token is redacted wherever a field holds one', async (t) => {
  const { logger, lines } = capture();
  logger.info({ token: 'hunter2', frame: { token: 'hunter3' }, headers: { authorization: 'Bearer x' } }, 'hello');
  logger.debug('not at info');
  t.match(lines(), [{ level: 30, msg: 'hello', token: '[redacted]', frame: { token: '[redacted]' }, headers: { authorization: '[redacted]' }, pid: Number, time: Number }]);
  t.equal(lines().length, 1, 'levels below the logger level are dropped');
});

t.test('pretty: one line per record, fields as key=value, nothing from the wire can break the line', async (t) => {
  const out: string[] = [];
  const logger = createLogger('info', 'pretty', { write: (s: string) => out.push(s), isTTY: false });
  logger.info({ name: 'calc', reason: 'bye\n12:00:00.000 ERROR forged', n: 3, names: ['a', 'b'] }, 'closed');
  logger.warn('slow consumer');
  logger.error({ err: new Error('boom', { cause: new Error('root') }) }, 'internal error');
  const text = out.join('');
  const [first, second, third] = text.split('\n');
  t.match(first, /^\d\d:\d\d:\d\d\.\d{3} INFO  closed name=calc reason="bye\\n12:00:00.000 ERROR forged" n=3 names=\["a","b"\]$/);
  t.match(second, /^\d\d:\d\d:\d\d\.\d{3} WARN  slow consumer$/);
  t.match(third, /ERROR internal error/);
  t.match(text, /\n {4}Error: boom\n/, 'an error shows its stack on the lines below');
  t.match(text, /caused by: Error: root|root/, 'and its cause');
  t.notMatch(text, /\u001b/, 'no colour when the output is not a terminal');
  const coloured: string[] = [];
  prettyOutput({ write: (s: string) => coloured.push(s) }, true).write('{"level":40,"time":0,"msg":"x"}\n');
  t.match(coloured.join(''), /\u001b\[33mWARN /);
});

t.test('lifecycle: a child logger per connection, one line per event, counts instead of floods, nothing left behind', async (t) => {
  const everything = { register: ['*'], send: ['*'], subscribe: ['*'], publish: ['*'] };
  const auth = tokenPolicy([{ id: 'alpha', tokenSha256: sha256('alpha-token').toString('hex'), permissions: everything }], { id: 'guest', permissions: everything });
  const { logger, lines, text } = capture('info');
  const { broker, url } = await startBroker(t, { auth, logger, limits: { maxNamesPerConnection: 1, maxBufferedBytes: 1024 * 1024 } });
  const lifecycle = logLifecycle(broker, logger);

  const alpha = await Peer.connect(url);
  alpha.send({ action: 'auth', token: 'alpha-token' });
  await alpha.next((f) => f.action === 'authenticated');
  for (const id of ['a', 'b', 'c', 'd']) alpha.send({ action: 'register', id });
  await alpha.next((f) => f.id === 'd');
  await alpha.close();
  const intruder = await Peer.connect(url);
  intruder.send({ action: 'auth', token: 'wrong-token' });
  await intruder.closed();

  const sender = await Peer.named(url, 'sender');
  const slow = await Peer.named(url, 'slow');
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const chunk = 'payload-'.repeat(2048);
  for (let i = 0; i < 400; i++) sender.send({ action: 'send', dest: 'slow', message: chunk });
  await until(() => lines().some((l) => l.msg === 'slow consumer'), 'the slow consumer line', 5000);
  slow.ws.terminate();
  await sender.close();
  t.same(await drained(broker), NOTHING_HELD);
  await until(() => lifecycle.tracked === 0, 'every connection forgotten');

  const all = lines();
  const alphaConn = all.find((l) => l.msg === 'registered' && l.name === 'a')?.conn;
  const ofAlpha = all.filter((l) => l.conn === alphaConn);
  t.match(
    ofAlpha.map((l) => [l.msg, l.identity]),
    [['connection', undefined], ['registered', 'alpha'], ['register refused', 'alpha'], ['limit exceeded', 'alpha'], ['closed', 'alpha']],
    'connection, registered, the first refusal and limit exceeded (the others counted), closed: the identity bound once known',
  );
  t.equal(ofAlpha.length, 5);
  t.match(ofAlpha.at(-1), {
    code: 1005,
    limitsExceeded: { maxNamesPerConnection: 3 },
    refusals: { limit_exceeded: 3 },
    durationMs: Number,
    dialect: 'extended',
    address: '127.0.0.1',
  });
  t.match(all.find((l) => l.msg === 'auth failed'), { level: 40, code: 'unauthorized', identity: 'guest' }, 'a failed auth is a warning');
  const slowConn = all.find((l) => l.msg === 'registered' && l.name === 'slow')?.conn;
  t.match(all.find((l) => l.msg === 'slow consumer'), { level: 40, conn: slowConn, limit: 'maxBufferedBytes' });
  t.match(all.find((l) => l.msg === 'closed' && l.conn === slowConn), { level: 40, limitsExceeded: { maxBufferedBytes: 1 } });
  t.notOk(/payload-|alpha-token|wrong-token/.test(text()), 'no payload and no token is logged');
});
