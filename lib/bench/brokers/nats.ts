/**
 * nats-server (Go), started on a random loopback port and stopped with this driver. The bench reads
 * the CPU and memory of the nats-server process itself (its pid is reported), not of this wrapper.
 * Argument: the path of the nats-server executable.
 */
import { spawn } from 'node:child_process';
import { LOOPBACK, drive } from './driver.js';

const STARTUP_MS = 10_000;

drive(async () => {
  const executable = process.argv[2] ?? 'nats-server';
  const server = spawn(executable, ['-a', LOOPBACK, '-p', '-1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not listen within ${STARTUP_MS} ms: ${log}`)), STARTUP_MS);
    const read = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4096);
      const found = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
      if (found !== null) {
        clearTimeout(timer);
        resolve(Number(found[1]));
      }
    };
    server.stdout.on('data', read);
    server.stderr.on('data', read);
    server.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    server.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited (${code}): ${log}`));
    });
  });
  // Keep draining its output so it never blocks on a full pipe.
  server.stdout.resume();
  server.stderr.resume();
  return {
    port,
    pid: server.pid,
    close: () =>
      new Promise<void>((resolve) => {
        if (server.exitCode !== null) return resolve();
        server.once('exit', () => resolve());
        server.kill('SIGTERM');
      }),
  };
});
