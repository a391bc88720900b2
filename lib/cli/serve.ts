/**
 * `switchboard serve`: run the broker in this process until SIGINT or SIGTERM, one log line per
 * lifecycle event.
 */
import { parseArgs } from 'node:util';
import { Broker, DEFAULT_PORT, type Logger } from '../broker/index.js';

export const summary = 'run the broker (--port 9042, --host all interfaces, --path /)';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: String(DEFAULT_PORT) },
      host: { type: 'string' },
      path: { type: 'string', default: '/' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`usage: switchboard serve [--port ${DEFAULT_PORT}] [--host ADDRESS] [--path /]\n`);
    return 0;
  }
  const logger = consoleLogger();
  const broker = new Broker({ port: Number(values.port), host: values.host, path: values.path, logger });
  broker.on('connection', (c) => logger.info(`connection ${c.id} ${c.dialect} from ${c.remoteAddress}`));
  broker.on('disconnect', (c, code) => logger.info(`disconnect ${c.id} (${code})`));
  broker.on('registered', (name, c) => logger.info(`registered "${name}" by ${c.id}`));
  broker.on('unregistered', (name, c) => logger.info(`unregistered "${name}" by ${c.id}`));
  await broker.listen();
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info(`${signal}: shutting down`);
  await broker.close();
  return 0;
}

function consoleLogger(): Logger {
  const line = (level: string, message: string) =>
    process.stdout.write(`${new Date().toISOString()} ${level} ${message}\n`);
  return {
    info: (message) => line('info', message),
    warn: (message) => line('warn', message),
    error: (message) => line('error', message),
  };
}
