/**
 * What every broker driver shares: tell the bench where it listens (IPC `listening`), collect garbage
 * when asked (`gc`, for memory readings; effective under --expose-gc), and stop on `stop`, SIGTERM or
 * when the bench goes away (IPC disconnect), so that no broker outlives its benchmark. Stopping exits
 * the process normally, which is what lets `--cpu-prof` write its profile.
 */
import type { WebSocketServer } from 'ws';

export interface Running {
  port: number;
  /** The process whose CPU and memory the bench reads (default: this one). */
  pid?: number;
  close(): Promise<void>;
}

const CLOSE_DEADLINE_MS = 3000;

export function drive(start: () => Promise<Running>): void {
  let stopping = false;
  let running: Running | undefined;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const deadline = setTimeout(() => process.exit(0), CLOSE_DEADLINE_MS);
    deadline.unref();
    void (running?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  };
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'stop') stop();
    if (message.type === 'gc') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send?.({ type: 'gc-done' });
    }
  });
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  start().then(
    (started) => {
      running = started;
      process.send?.({ type: 'listening', port: started.port, pid: started.pid ?? process.pid });
      if (stopping) void started.close();
    },
    (error: unknown) => {
      process.send?.({ type: 'error', message: error instanceof Error ? error.message : String(error) });
      process.exit(1);
    },
  );
}

export const LOOPBACK = '127.0.0.1';

/** A ws server of a relay, once it listens: its port, and how to close it. */
export async function listening(wss: WebSocketServer): Promise<Running> {
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const address = wss.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    close: () => new Promise<void>((resolve) => wss.close(() => resolve())),
  };
}
