/**
 * `switchboard serve`: run the broker in this process until SIGINT or SIGTERM, one log line per
 * lifecycle event. Every option problem is reported before anything starts: a bad auth file never
 * falls open.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Broker, DEFAULT_PORT, loadAuthConfig, resolveOptions, type BrokerOptions, type Logger } from '../broker/index.js';
import type { Limits } from '../protocol/index.js';

export const summary = 'run the broker (--port 9042, --host, --path /, --auth FILE, --limit name=value, --tls-cert/--tls-key)';

const USAGE = `usage: switchboard serve [options]

  --port N               TCP port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host ADDRESS         interface to listen on (default: all)
  --path /PATH           the WebSocket path (default /)
  --auth FILE            authentication and permissions (JSON; see README "Security"); alias --config
  --allowed-origin URL   allow browsers from this origin only (repeat for several)
  --tls-cert FILE        serve wss:// with this PEM certificate (needs --tls-key)
  --tls-key FILE         the certificate's PEM private key
  --limit NAME=VALUE     set a limit of protocol.md section 9 (repeat for several)
  --shutdown-grace MS    on SIGTERM, how long pending requests may still be answered (default 5000)
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: String(DEFAULT_PORT) },
      host: { type: 'string' },
      path: { type: 'string', default: '/' },
      auth: { type: 'string' },
      config: { type: 'string' },
      'allowed-origin': { type: 'string', multiple: true },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      limit: { type: 'string', multiple: true },
      'shutdown-grace': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const logger = consoleLogger();
  let options: BrokerOptions;
  try {
    options = brokerOptions(values, logger);
  } catch (error) {
    process.stderr.write(`switchboard serve: ${(error as Error).message}\n`);
    return 2;
  }
  const broker = new Broker(options);
  broker.on('connection', (c) => logger.info(`connection ${c.id} ${c.dialect} from ${c.remoteAddress}`));
  broker.on('disconnect', (c, code, reason) => logger.info(`disconnect ${c.id} (${code}${reason === '' ? '' : ` ${reason}`})`));
  broker.on('refused', (c, code, subject) => logger.info(`refused ${subject === 'auth' ? 'auth' : `"${subject}"`} to ${c.id}: ${code}`));
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

type Values = {
  port?: string;
  host?: string;
  path?: string;
  auth?: string;
  config?: string;
  'allowed-origin'?: string[];
  'tls-cert'?: string;
  'tls-key'?: string;
  limit?: string[];
  'shutdown-grace'?: string;
};

function brokerOptions(values: Values, logger: Logger): BrokerOptions {
  const options: BrokerOptions = {
    port: Number(values.port),
    host: values.host,
    path: values.path,
    logger,
    allowedOrigins: values['allowed-origin'],
    limits: parseLimits(values.limit ?? []),
  };
  const authFile = values.auth ?? values.config;
  if (authFile !== undefined) options.auth = loadAuthConfig(authFile);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    throw new Error('--tls-cert and --tls-key go together');
  }
  if (values['tls-cert'] !== undefined && values['tls-key'] !== undefined) {
    options.tls = { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) };
  }
  if (values['shutdown-grace'] !== undefined) options.shutdownGraceMs = Number(values['shutdown-grace']);
  resolveOptions(options); // validates every option now, reporting all problems together
  return options;
}

function parseLimits(pairs: string[]): Partial<Limits> {
  const limits: Record<string, number> = Object.create(null);
  for (const pair of pairs) {
    const match = /^([A-Za-z]+)=(\d+)$/.exec(pair);
    if (match === null) throw new Error(`--limit takes NAME=VALUE, got "${pair}"`);
    limits[match[1]] = Number(match[2]);
  }
  return limits as Partial<Limits>;
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
