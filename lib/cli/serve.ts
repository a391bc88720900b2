/**
 * `switchboard serve`: run the broker in this process until SIGINT or SIGTERM. Its configuration comes
 * from a file, the environment and the flags (lib/config, README "Configuration"), and every problem is
 * reported before anything starts: a bad auth file never falls open. SIGHUP reloads the auth file and the
 * limits, all of them or, when anything is wrong, none. Logs: log.ts (the logger), lifecycle.ts (the
 * lines made from the broker's events), README "Logs".
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Broker, DEFAULT_PORT } from '../broker/index.js';
import { ConfigError, FLAG_OPTIONS, loadConfig, type Effective, type FlagValues, type Loaded, type Sources } from '../config/load.js';
import { logLifecycle } from './lifecycle.js';
import { createLogger, type Pino } from './log.js';

export const summary = 'run the broker (-c FILE, --port 9042, --host, --auth FILE, --limit name=value, --log-format; SIGHUP reloads)';

export const FLAGS_USAGE = `  -c, --config FILE      a configuration file, JSON or YAML (README "Configuration")
  --port N               TCP port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host ADDRESS         interface to listen on (default: all)
  --path /PATH           the WebSocket path (default /)
  --auth FILE            authentication and permissions (JSON; see README "Security")
  --allowed-origin URL   allow browsers from this origin only (repeat for several)
  --tls-cert FILE        serve wss:// with this PEM certificate (needs --tls-key)
  --tls-key FILE         the certificate's PEM private key
  --limit NAME=VALUE     set a limit of protocol.md section 9 (repeat for several)
  --shutdown-grace MS    on SIGTERM, how long pending requests may still be answered (default 5000)
  --durable-names LIST   name patterns whose names keep a mailbox while nobody holds them (comma-
                         separated or repeated; e.g. 'jobs.*'; default: none)
  --peer-name NAME       the name of the broker's own peer (default broker)
  --monitor HOST:PORT    where the monitor listens (or PORT); default: no monitor
  --monitor-readonly     the monitor refuses kicks, and its dashboard (/ui) shows no act controls
  --cluster URL          run as a node of the cluster on this Redis (redis://HOST:PORT; protocol.md section 16)
  --cluster-prefix P     the cluster's key prefix in Redis, so that clusters can share one (default switchboard:)
  --cluster-lease MS     how long a node's names outlive it, in ms (default 3000)
  --data-dir DIR         keep the mailboxes in DIR too, so that they outlive a restart (not with --cluster)
  --log-level LEVEL      trace, debug, info (default), warn, error, fatal or silent
  --log-format FORMAT    json, pretty, or auto (default): pretty on a terminal, JSON lines otherwise

Each setting can also come from the environment (SWITCHBOARD_PORT, SWITCHBOARD_AUTH,
SWITCHBOARD_LIMIT_MAX_DEPTH, ...) or the file; flags win over the environment, which wins over the file.
`;

const USAGE = `usage: switchboard serve [options]

${FLAGS_USAGE}
SIGHUP re-reads the configuration file and the auth file and applies the new auth and limits, or keeps
the old ones and logs why. \`switchboard config print\` shows the configuration these options make.
`;

/** What a reload leaves as it is: these take effect at the next start. */
const RESTART_ONLY = ['host', 'port', 'socketPath', 'path', 'tls', 'allowedOrigins', 'durableNames', 'peerName', 'shutdownGraceMs', 'monitor', 'cluster', 'dataDir', 'log'] as const;

export async function run(argv: string[]): Promise<number> {
  let flags: FlagValues;
  try {
    flags = parseArgs({ args: argv, options: FLAG_OPTIONS, strict: true }).values;
  } catch (error) {
    process.stderr.write(`switchboard serve: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (flags.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const sources: Sources = { flags, env: process.env };
  let loaded: Loaded;
  try {
    loaded = loadConfig(sources);
  } catch (error) {
    return reportProblems('serve', error);
  }
  const { config } = loaded;
  const logger = createLogger(config.log.level, config.log.format);
  for (const warning of loaded.warnings) logger.warn(warning);
  const broker = new Broker({ ...loaded.options, logger });
  const lifecycle = logLifecycle(broker, logger);
  let running = config;
  let stopping = false;
  const onHangup = () => {
    if (stopping) logger.info('SIGHUP ignored: shutting down');
    else running = reload(broker, logger, sources, running);
  };
  process.on('SIGHUP', onHangup);
  logger.info({ version: version(), ...(loaded.file === undefined ? {} : { config: loaded.file }), ...(config.auth === undefined ? {} : { auth: config.auth }) }, 'starting');
  try {
    await broker.listen();
  } catch (error) {
    logger.fatal({ err: error }, 'cannot listen');
    process.off('SIGHUP', onHangup);
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopping = true;
  lifecycle.shuttingDown();
  const before = broker.stats();
  const endedBefore = broker.metrics.requests.shutting_down;
  logger.info({ signal, connections: before.connections, names: before.names, pending: before.pending, queued: before.queued }, 'shutting down');
  const started = performance.now();
  await broker.close();
  logger.info(
    {
      durationMs: Math.round(performance.now() - started),
      connectionsClosed: before.connections,
      requestsEnded: broker.metrics.requests.shutting_down - endedBefore,
      queuedDropped: broker.stats().queued,
    },
    'shut down',
  );
  process.off('SIGHUP', onHangup);
  return 0;
}

/** Print every problem of a configuration and answer exit code 2; anything else is not ours to catch. */
export function reportProblems(command: string, error: unknown): number {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`switchboard ${command}: invalid configuration:\n${error.problems.map((p) => `  - ${p}\n`).join('')}`);
  return 2;
}

/**
 * SIGHUP: read the configuration as a start would, then swap the auth policy and the limits in one step
 * (broker.reload), or keep both and say why. Answers the configuration now running.
 */
function reload(broker: Broker, logger: Pino, sources: Sources, running: Effective): Effective {
  const failed = (problems: readonly string[]) => {
    logger.error({ problems }, 'reload failed: kept the previous auth and limits');
    return running;
  };
  let next: Loaded;
  try {
    next = loadConfig(sources);
  } catch (error) {
    if (error instanceof ConfigError) return failed(error.problems);
    return failed([(error as Error).message]);
  }
  if ((running.auth === undefined) !== (next.config.auth === undefined)) {
    return failed([`turning authentication ${running.auth === undefined ? 'on' : 'off'} takes a restart`]);
  }
  try {
    broker.reload({ auth: next.options.auth, limits: next.options.limits ?? {} });
  } catch (error) {
    return failed((error as Error).message.replace(/^invalid (reload|broker options): /, '').split('; '));
  }
  const waiting = RESTART_ONLY.filter((key) => JSON.stringify(running[key]) !== JSON.stringify(next.config[key]));
  if (waiting.length > 0) logger.warn({ settings: waiting }, 'changed settings that take effect at the next start');
  const limits = Object.keys(next.config.limits).filter((key) => next.config.limits[key as keyof Effective['limits']] !== running.limits[key as keyof Effective['limits']]);
  logger.info({ auth: next.config.auth ?? null, limitsChanged: limits }, 'reloaded');
  return { ...running, auth: next.config.auth, limits: next.config.limits };
}

function version(): string | undefined {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}
