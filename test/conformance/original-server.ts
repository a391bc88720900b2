/**
 * Starts the original wsmsgbroker 1.7.2 server (the npm package, a devDependency) in this process on a
 * free loopback port, for the tests that prove the legacy profile describes it. Its constructor takes a
 * fixed port, so one is picked first with node:net. Teardown closes it and clears the one-hour timers it
 * leaves for requests nobody answered (they would keep the test process alive).
 */
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import type { Test } from 'tap';

interface OriginalServer {
  wss: { on(event: 'listening' | 'error', listener: (error?: Error) => void): void };
  ack2timeout: Record<string, NodeJS.Timeout[]>;
  on(event: string, listener: (...args: unknown[]) => void): void;
  close(): void;
}

const require = createRequire(import.meta.url);
const { Server } = require('wsmsgbroker') as { Server: new (port: number, path: string) => OriginalServer };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Start the original server; resolves with its URL once it listens. */
export async function startOriginal(t: Test): Promise<{ url: string; errors: unknown[] }> {
  const port = await freePort();
  const server = new Server(port, '/');
  const errors: unknown[] = [];
  // The original emits 'error' for frames it cannot use; without a listener that throws.
  server.on('error', (error) => errors.push(error));
  server.on('warn', () => {});
  await new Promise<void>((resolve, reject) => {
    server.wss.on('listening', () => resolve());
    server.wss.on('error', (error) => reject(error));
  });
  t.teardown(() => {
    server.close();
    for (const timers of Object.values(server.ack2timeout)) timers.forEach(clearTimeout);
  });
  return { url: `ws://127.0.0.1:${port}/`, errors };
}
