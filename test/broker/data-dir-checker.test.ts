/**
 * The mailbox checker against one broker that keeps its mailboxes on disk (issue 15, item 2;
 * `--data-dir`, protocol.md section 6.3): a `switchboard serve --data-dir DIR` process, killed with
 * SIGKILL and started again on the same port and folder, round after round, while senders and holders
 * that come and go (test/fixtures/mailbox-checker.ts) reconnect to it. Nothing reported `queued` is lost,
 * none is taken twice once repeats are dropped by `mailbox` id, and each sender's messages to a name
 * arrive in order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { built, freePort, spawnBroker } from '../fixtures/broker-process.js';
import { checkMailboxes } from '../fixtures/mailbox-checker.js';

const ROUNDS = 12;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('nothing acknowledged as queued is lost or taken twice through kill -9 of a broker with --data-dir [SB-6.3-1] [SB-6.3-4]', { skip: built() }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-checker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const args = ['--data-dir', dir];
  let broker = await spawnBroker(t, port, 10_000, args);
  await checkMailboxes(
    t,
    [broker.url],
    async (note) => {
      let kills = 0;
      for (let round = 0; round < ROUNDS; round++) {
        await broker.kill();
        kills++;
        note('kill -9 of the broker');
        await sleep(300);
        broker = await spawnBroker(t, port, 10_000, args);
        await sleep(1500);
      }
      return kills;
    },
    ROUNDS,
  );
});
