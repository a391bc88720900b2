/**
 * A cluster node is not ready while it holds no lease (lib/monitor `/readyz`, protocol.md section 16
 * [SB-16-3]): it refuses names and requests to other nodes then, so a load balancer should send no
 * client to it. Real redis-server, killed and restarted.
 */
import t from 'tap';
import { startCluster } from '../fixtures/cluster.js';

async function readyz(base: string): Promise<{ status: number; body: { status: string; checks?: Array<{ name: string; ok: boolean }> } }> {
  const res = await fetch(`${base}/readyz?verbose`);
  return { status: res.status, body: (await res.json()) as never };
}

async function until(check: () => Promise<boolean>, what: string, ms: number): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return performance.now() - start;
}

t.test('/readyz answers 503 no_cluster_lease while the node holds no lease, and 200 again once it does [SB-16-3]', async (t) => {
  const { brokers, redis } = await startCluster(t, 1, { monitor: { port: 0 } });
  const base = brokers[0].monitorAddress as string;
  t.match(await readyz(base), { status: 200, body: { status: 'ready', checks: [{ name: 'shutdown', ok: true }, { name: 'cluster', ok: true }] } });
  await redis.kill9();
  const lost = await until(async () => (await readyz(base)).status === 503, 'not ready after Redis died', 5000);
  t.match(await readyz(base), { status: 503, body: { status: 'no_cluster_lease', checks: [{ name: 'shutdown', ok: true }, { name: 'cluster', ok: false }] } });
  t.comment(`not ready ${lost.toFixed(0)} ms after Redis died (lease 3000 ms: at most three quarters of it)`);
  await redis.restart();
  const back = await until(async () => (await readyz(base)).status === 200, 'ready after Redis returned', 5000);
  t.comment(`ready again ${back.toFixed(0)} ms after Redis returned`);
});
