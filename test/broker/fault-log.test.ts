/**
 * The log of faults nobody listens for (lib/broker/fault-log.ts, broker.ts `fault`): each distinct stack
 * once, at most 100 of them, and a logger that throws changes nothing.
 */
import t from 'tap';
import { FaultLog } from '../../lib/broker/fault-log.js';
import type { Logger } from '../../lib/broker/options.js';
import { startBroker } from '../fixtures/broker.js';
import { Peer } from '../fixtures/peer.js';

function capture(): { logger: Logger; errors: string[] } {
  const errors: string[] = [];
  const ignore = () => {};
  return { errors, logger: { info: ignore, warn: ignore, error: (_fields, message) => errors.push(String(message)) } };
}

t.test('a fault that repeats is logged once; another stack, or another cause, is logged again', async (t) => {
  const { logger, errors } = capture();
  const log = new FaultLog(logger);
  const same = new Error('boom');
  for (let i = 0; i < 5; i++) log.log(same);
  t.same(errors, ['internal error: boom']);
  log.log(new Error('boom, elsewhere'));
  log.log(new Error('boom', { cause: new Error('root') }));
  t.equal(errors.length, 3, 'a new stack and a new cause are each logged');
});

t.test('at most 100 distinct faults are logged, however many there are', async (t) => {
  const { logger, errors } = capture();
  const log = new FaultLog(logger);
  for (let i = 0; i < 250; i++) {
    const fault = new Error(`fault ${i}`);
    fault.stack = `Error: fault ${i}\n    at site${i}`;
    log.log(fault);
  }
  t.equal(errors.length, 100);
});

t.test('a logger that throws does not make logging a fault throw', async (t) => {
  const log = new FaultLog({ info() {}, warn() {}, error: () => { throw new Error('disk full'); } });
  t.doesNotThrow(() => log.log(new Error('boom')));
});

t.test('a broker with no error listener logs a hook that keeps throwing once, and goes on serving', async (t) => {
  const { logger, errors } = capture();
  const broken = new Error('policy store down');
  const { url } = await startBroker(t, {
    logger,
    auth: {
      anonymous: { id: 'anyone', permissions: { register: ['*'], send: ['*'], subscribe: ['*'], publish: ['*'] } },
      authenticate: () => undefined,
      authorize: () => {
        throw broken;
      },
    },
  });
  const peer = await Peer.connect(url);
  for (let i = 0; i < 5; i++) {
    peer.send({ action: 'register', id: `svc${i}`, ref: `r${i}` });
    t.match(await peer.next((frame) => frame.action === 'error'), { code: 'forbidden', ref: `r${i}` });
  }
  t.same(errors, ['internal error: the authorize hook threw'], 'five faults of one stack, one line');
  await peer.close();
});
