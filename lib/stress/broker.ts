/**
 * The stress run's broker process: a Broker with its default limits on a free loopback port, and
 * answers to the parent's questions about it (stats with the close codes of the connections it let go,
 * memory after a full GC, event-loop delay). Run with --expose-gc so that `memory` can collect first:
 * its figures are then of live objects, not of garbage not yet collected. Nothing here collects on its
 * own, so between two `memory` questions the process's RSS is what a deployment's would be.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Broker } from '../broker/index.js';
import { reply, serveParent } from './child.js';

const broker = new Broker({ host: '127.0.0.1', port: 0 });
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

const collect = (globalThis as { gc?: () => void }).gc;
const closes: Record<string, number> = {};
broker.on('disconnect', (_info, code, reason?: string) => {
  const key = reason ? `${code} ${reason}` : String(code);
  closes[key] = (closes[key] ?? 0) + 1;
});

/**
 * Memory after two full GCs (after one, the backing stores of dead Buffers may not be freed yet), and
 * what each named connection had waiting in its socket's buffer then: [name, bytes] where not none.
 */
function memory() {
  collect?.();
  collect?.();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  const buffered: Array<[string, number]> = [];
  for (const session of broker.namedSessions()) if (session.bufferedBytes > 0) buffered.push([session.primaryName ?? session.id, session.bufferedBytes]);
  return { rss, heapUsed, external, arrayBuffers, buffered, collected: collect !== undefined };
}

serveParent(async (message) => {
  switch (message.type) {
    case 'stats':
      return reply({ type: 'stats', stats: broker.stats(), closes });
    case 'memory':
      return reply({ type: 'memory', ...memory() });
    case 'loop-reset':
      loop.reset();
      return reply({ type: 'loop-reset' });
    case 'loop':
      return reply({ type: 'loop', p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 });
    case 'stop':
      await broker.close();
      process.exit(0);
  }
});

const { port } = await broker.listen();
reply({ type: 'ready', port });
