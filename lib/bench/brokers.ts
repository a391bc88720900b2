/**
 * Starting a system's broker for one run: which driver file, whether the system is available on this
 * machine (nats-server on the PATH, the npm packages installed), and where it listens.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnNode, type Child } from './proc.js';
import type { SystemId } from './scenarios.js';

const require = createRequire(import.meta.url);

/** The compiled file next to this one (the bench runs from dist/). */
export function sibling(relative: string): string {
  const path = fileURLToPath(new URL(relative, import.meta.url));
  if (!existsSync(path)) throw new Error(`${path} is missing: build first (npm run build)`);
  return path;
}

const DRIVERS: Record<SystemId, string> = {
  'relay-inplace': './brokers/relay-inplace.js',
  'relay-prefix': './brokers/relay-prefix.js',
  'relay-json': './brokers/relay-json.js',
  switchboard: './brokers/switchboard.js',
  'switchboard-raw': './brokers/switchboard.js',
  wsmsgbroker: './brokers/wsmsgbroker.js',
  nats: './brokers/nats.js',
  socketio: './brokers/socketio.js',
  'switchboard-monitored': './brokers/switchboard-monitored.js',
  'switchboard-dashboard': './brokers/switchboard-dashboard.js',
};

/** The nats-server executable: on the PATH, or where Debian's package puts it (/usr/sbin is not on every PATH). */
export function findNatsServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, 'nats-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function resolvable(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** Why `system` cannot run here, or undefined when it can. */
export function unavailable(system: SystemId): string | undefined {
  if (system === 'nats') {
    if (findNatsServer() === undefined) return 'nats-server is not on the PATH (Debian: apt-get install -y nats-server)';
    if (!resolvable('nats')) return 'the nats npm package is not installed (npm install)';
  }
  if (system === 'wsmsgbroker' && !resolvable('wsmsgbroker')) return 'the wsmsgbroker npm package is not installed (npm install)';
  if (system === 'socketio' && !(resolvable('socket.io') && resolvable('socket.io-client'))) return 'the socket.io and socket.io-client npm packages are not installed (npm install)';
  return undefined;
}

/** True when the broker is a Node process (it can be profiled and asked to collect garbage). */
export function isNodeBroker(system: SystemId): boolean {
  return system !== 'nats';
}

export interface StartedBroker {
  child: Child;
  port: number;
  /** The process to measure (nats-server itself for NATS). */
  pid: number;
}

export interface BrokerLaunch {
  execArgv?: string[];
  fileDescriptors?: number;
}

const LISTEN_TIMEOUT_MS = 15_000;

export async function startBroker(system: SystemId, launch: BrokerLaunch = {}): Promise<StartedBroker> {
  const args = system === 'nats' ? [findNatsServer() ?? 'nats-server'] : [];
  const child = spawnNode(`${system} broker`, sibling(DRIVERS[system]), args, launch);
  try {
    const listening = await child.next('listening', LISTEN_TIMEOUT_MS);
    return { child, port: Number(listening.port), pid: Number(listening.pid) };
  } catch (error) {
    await child.stop(1000);
    throw error;
  }
}
