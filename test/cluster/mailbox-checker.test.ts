/**
 * The mailbox checker against a cluster (issue 15; protocol.md [SB-16-6]): nothing a cluster acknowledged
 * as `queued` is lost, whatever is killed. Three `switchboard serve --cluster` processes on a real
 * redis-server with AOF (`appendfsync always`); senders on every node, holders that come and go over the
 * nodes (test/fixtures/mailbox-checker.ts); meanwhile a node is killed with SIGKILL and started again,
 * then Redis is killed with SIGKILL and started again, round after round: 22 kills. `npm run chaos` runs
 * this file alone.
 */
import t from 'tap';
import { built, freePort, type BrokerProcess } from '../fixtures/broker-process.js';
import { clusterPrefix, spawnNode } from '../fixtures/cluster.js';
import { checkMailboxes } from '../fixtures/mailbox-checker.js';
import { startRedis } from '../fixtures/redis.js';

const LEASE_MS = 2000;
/** Rounds of faults: each kills a node and Redis with SIGKILL, so twice as many kills. */
const ROUNDS = 11;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('nothing acknowledged as queued is lost or taken twice through kill -9 of nodes and of Redis [SB-16-6]', { skip: built() }, async (t) => {
  const redis = await startRedis(t, { appendonly: true });
  const prefix = clusterPrefix();
  const ports = await Promise.all([0, 1, 2].map(() => freePort()));
  const nodes: BrokerProcess[] = await Promise.all(ports.map((port) => spawnNode(t, port, redis.url, prefix, LEASE_MS)));
  await checkMailboxes(
    t,
    nodes.map((node) => node.url),
    async (note) => {
      let kills = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const i = round % nodes.length;
        await nodes[i].kill();
        kills++;
        note(`kill -9 of node ${i}`);
        await sleep(800);
        nodes[i] = await spawnNode(t, ports[i], redis.url, prefix, LEASE_MS);
        await sleep(700);
        await redis.kill9();
        kills++;
        note('kill -9 of Redis');
        await sleep(300);
        await redis.restart();
        await sleep(1200);
      }
      return kills;
    },
    20,
  );
});
