/**
 * `switchboard server report|check|kick`: a running broker seen and acted on through its monitor
 * listener (`serve --monitor`, lib/monitor/README.md), for operators and scripts, in the manner of
 * `nats server report` and `nats server check`. `report` prints the server, its connections, names,
 * topics and mailboxes as tables (or the monitor's JSON with --json); `check` answers with an exit code
 * only a probe or a monitoring system needs; `kick` closes a connection, or every holder of a name
 * (4010, `monitor: ["read", "write"]` permission). The calls and their exit codes: monitor-client.ts.
 */
import { parseArgs } from 'node:util';
import { EXIT_CODES, usage as usageOf } from './client-command.js';
import { DEFAULT_MONITOR_URL, MonitorError, call, expectOk, monitorUrl, statusError } from './monitor-client.js';
import { bytes, duration, sanitize, table } from './table.js';

const USAGE = `usage: switchboard server report [connections|names|topics|mailboxes|server] [--json]
                                [--sort connected|id|names|pending|buffered] [--order asc|desc]
                                [--top N] [--name NAME]
       switchboard server check
       switchboard server kick <connection-id|name>
options of every action: [--monitor ${DEFAULT_MONITOR_URL}] [--token TOKEN] [--timeout MS]

A running broker through its monitor listener (switchboard serve --monitor HOST:PORT).
  report   the server and its counters, then the connections, names, topics and mailboxes, as tables;
           one section when named. --json prints the monitor's JSON instead. Connections: --sort
           (default connected, oldest first; counts largest first), --order, --top N (default 1024),
           --name NAME (only the connections holding NAME).
  check    whether the broker is ready for traffic (GET /readyz): prints ready or why not.
  kick     closes the connection with that id, or else every connection holding that name (close code
           4010); it may reconnect by itself. Needs the permission "monitor": ["read", "write"].

--monitor is the monitor's URL (or HOST:PORT); --timeout the deadline of each call in milliseconds
(default 5000). With an auth policy, the monitor needs a token whose identity has the permission
"monitor": ["read"]; without one, it serves loopback clients only.

exit codes: 0 ok (check: ready), 1 check: not ready (503), or another failure (kick: nothing to kick),
2 usage, 4 timeout (the monitor did not answer in time), 7 unreachable (no monitor at that URL),
10 unauthorized (no token, or a token it does not know), 11 forbidden (the identity lacks the permission)

environment: SWITCHBOARD_MONITOR_URL, the monitor's URL when --monitor is not given; SWITCHBOARD_TOKEN,
the token when --token is not given (an argument shows in ps and shell histories: prefer the variable)
`;

const SECTIONS = ['server', 'connections', 'names', 'topics', 'mailboxes'] as const;
type Section = (typeof SECTIONS)[number];

const OPTIONS = {
  monitor: { type: 'string' },
  token: { type: 'string' },
  timeout: { type: 'string', default: '5000' },
  json: { type: 'boolean', default: false },
  sort: { type: 'string' },
  order: { type: 'string' },
  top: { type: 'string' },
  name: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

interface Context {
  base: URL;
  token?: string;
  timeoutMs: number;
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    return usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [action, ...targets] = positionals;
  if (values.help || action === 'help') {
    process.stdout.write(USAGE);
    return EXIT_CODES.ok;
  }
  const timeoutMs = Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) return usage('--timeout must be a whole number of milliseconds >= 1');
  const token = values.token ?? (process.env.SWITCHBOARD_TOKEN || undefined);
  try {
    const context: Context = { base: monitorUrl(values.monitor), timeoutMs, ...(token === undefined ? {} : { token }) };
    switch (action) {
      case 'report': {
        if (targets.length > 1) return usage('report takes at most one section');
        const section = targets[0];
        if (section !== undefined && !(SECTIONS as readonly string[]).includes(section)) {
          return usage(`unknown section ${JSON.stringify(section)}: one of ${SECTIONS.join(', ')}`);
        }
        const connectionOnly = (['sort', 'order', 'top', 'name'] as const).filter((key) => values[key] !== undefined);
        if (section !== undefined && section !== 'connections' && connectionOnly.length > 0) {
          return usage(`--${connectionOnly[0]} is for the connections, not the ${section}`);
        }
        return await report(context, section as Section | undefined, values);
      }
      case 'check':
        if (targets.length > 0) return usage('check takes no arguments');
        return await check(context);
      case 'kick':
        if (targets.length !== 1) return usage('kick takes one connection id or name');
        return await kick(context, targets[0], values.json);
      case undefined:
        return usage('say which action: report, check or kick');
      default:
        return usage(`unknown action ${JSON.stringify(action)}`);
    }
  } catch (error) {
    if (!(error instanceof MonitorError)) throw error;
    if (error.exitCode === EXIT_CODES.usage && error.status === undefined) return usage(error.message);
    process.stderr.write(`switchboard server: ${sanitize(error.message)}\n`);
    return error.exitCode;
  }
}

function usage(problem: string): number {
  return usageOf('server', USAGE, problem);
}

/** `check`: GET /readyz. 0 ready, 1 not ready (the monitor answered 503), else as any call fails. */
async function check(context: Context): Promise<number> {
  const answer = await call(context.base, 'GET', '/readyz', context);
  const status = (answer.body as { status?: unknown } | undefined)?.status;
  if (answer.status === 200) {
    process.stdout.write(`ready: ${context.base.origin}\n`);
    return EXIT_CODES.ok;
  }
  if (answer.status === 503) {
    process.stdout.write(`not ready: ${typeof status === 'string' ? sanitize(status) : 'HTTP 503'}\n`);
    return EXIT_CODES.other;
  }
  throw statusError(answer, '/readyz');
}

/** `kick`: the connection with that id, else the holders of that name. */
async function kick(context: Context, target: string, json: boolean): Promise<number> {
  const encoded = encodeURIComponent(target);
  let answer = await call(context.base, 'POST', `/v1/connections/${encoded}/kick`, context);
  if (answer.status === 404) answer = await call(context.base, 'POST', `/v1/names/${encoded}/kick`, context);
  if (answer.status === 404) {
    process.stderr.write(`switchboard server: nothing to kick: no open connection has the id or holds the name ${JSON.stringify(target)}\n`);
    return EXIT_CODES.other;
  }
  const body = expectOk(answer, '/v1/.../kick') as { kicked: string[] };
  if (json) process.stdout.write(`${JSON.stringify(body)}\n`);
  else for (const id of body.kicked) process.stdout.write(`kicked ${sanitize(id)}\n`);
  return EXIT_CODES.ok;
}

type ReportValues = { json: boolean; sort?: string; order?: string; top?: string; name?: string };

/** `report`: every section, or one; tables, or with --json the monitor's answers as one object. */
async function report(context: Context, only: Section | undefined, values: ReportValues): Promise<number> {
  const query = new URLSearchParams();
  if (values.sort !== undefined) query.set('sort', values.sort);
  if (values.order !== undefined) query.set('order', values.order);
  if (values.top !== undefined) query.set('limit', values.top);
  if (values.name !== undefined) query.set('name', values.name);
  const paths: Record<Section, string> = {
    server: '/v1/server',
    connections: `/v1/connections${query.size > 0 ? `?${query}` : ''}`,
    names: '/v1/names',
    topics: '/v1/topics',
    mailboxes: '/v1/mailboxes',
  };
  const sections = only === undefined ? SECTIONS : [only];
  const bodies = await Promise.all(sections.map(async (section) => expectOk(await call(context.base, 'GET', paths[section], context), paths[section])));
  const views = Object.fromEntries(sections.map((section, i) => [section, bodies[i]])) as Partial<Views>;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(only === undefined ? views : views[only])}\n`);
    return EXIT_CODES.ok;
  }
  const parts: string[] = [];
  if (views.server !== undefined) parts.push(serverPart(views.server));
  if (views.connections !== undefined) parts.push(connectionsPart(views.connections));
  if (views.names !== undefined) parts.push(titled(`Names: ${views.names.names.length}`, namesRows(views.names)));
  if (views.topics !== undefined) parts.push(titled(`Topics: ${views.topics.topics.length}`, topicsRows(views.topics)));
  // An empty mailboxes section is left out of the full report: most brokers have no durable names.
  if (views.mailboxes !== undefined && (only === 'mailboxes' || views.mailboxes.mailboxes.length > 0)) {
    parts.push(titled(`Mailboxes: ${views.mailboxes.mailboxes.length}`, mailboxesRows(views.mailboxes)));
  }
  process.stdout.write(`${parts.join('\n')}`);
  return EXIT_CODES.ok;
}

/** The monitor's views (lib/monitor/README.md "Endpoints"), as far as the report reads them. */
interface Views {
  server: { server: { version: string; startedAt: string; uptimeSeconds: number; url: string; node: string }; stats: Record<string, number> };
  connections: {
    total: number;
    offset: number;
    connections: Array<{
      id: string;
      dialect: string;
      remoteAddress: string;
      identity: string | null;
      names: string[];
      subscriptions: number;
      pending: number;
      inFlight: number;
      bufferedBytes: number;
      connectedAt: string;
    }>;
  };
  names: { names: Array<{ name: string; shared: boolean; holders: string[]; inFlight: number }> };
  topics: { topics: Array<{ topic: string; subscribers: number }> };
  mailboxes: { mailboxes: Array<{ name: string; depth: number; bytes: number; oldestAgeMs: number | null }> };
}

function titled(title: string, rows: string[][]): string {
  return rows.length === 1 ? `${title}\n` : `${title}\n${table(rows)}`;
}

function serverPart({ server, stats }: Views['server']): string {
  const head = `switchboard ${sanitize(server.version)} at ${sanitize(server.url)}, up ${server.uptimeSeconds < 1 ? '0s' : duration(server.uptimeSeconds * 1000)} (since ${sanitize(server.startedAt)}), node ${sanitize(server.node)}`;
  const pairs = Object.entries(stats).map(([key, value]) => `${sanitize(key)} ${key.endsWith('Bytes') ? bytes(value) : value}`);
  const lines: string[] = [];
  let line = '';
  for (const pair of pairs) {
    if (line !== '' && line.length + pair.length + 3 > 100) {
      lines.push(line);
      line = '';
    }
    line += line === '' ? pair : ` · ${pair}`;
  }
  if (line !== '') lines.push(line);
  return `${head}\n${lines.join('\n')}\n`;
}

function connectionsPart(view: Views['connections']): string {
  const now = Date.now();
  const rows = [['ID', 'ADDRESS', 'DIALECT', 'IDENTITY', 'NAMES', 'SUBS', 'PENDING', 'IN FLIGHT', 'BUFFERED', 'CONNECTED']];
  for (const c of view.connections) {
    rows.push([
      c.id,
      c.remoteAddress,
      c.dialect,
      c.identity ?? '-',
      list(c.names),
      String(c.subscriptions),
      String(c.pending),
      String(c.inFlight),
      bytes(c.bufferedBytes),
      `${duration(now - Date.parse(c.connectedAt))} ago`,
    ]);
  }
  const shown = view.connections.length;
  const title = shown === view.total ? `Connections: ${view.total}` : `Connections: ${view.total}, showing ${view.offset + 1} to ${view.offset + shown} (--top for more)`;
  return titled(title, rows);
}

function namesRows(view: Views['names']): string[][] {
  const rows = [['NAME', 'POOL', 'HOLDERS', 'IN FLIGHT']];
  for (const n of view.names) rows.push([n.name, n.shared ? `yes (${n.holders.length})` : 'no', list(n.holders), String(n.inFlight)]);
  return rows;
}

function topicsRows(view: Views['topics']): string[][] {
  return [['TOPIC', 'SUBSCRIBERS'], ...view.topics.map((t) => [t.topic, String(t.subscribers)])];
}

function mailboxesRows(view: Views['mailboxes']): string[][] {
  const rows = [['NAME', 'DEPTH', 'BYTES', 'OLDEST']];
  for (const m of view.mailboxes) rows.push([m.name, String(m.depth), bytes(m.bytes), m.oldestAgeMs === null ? '-' : duration(m.oldestAgeMs)]);
  return rows;
}

/** A list for a table cell: the first few items, then how many more. */
function list(items: string[], max = 3): string {
  if (items.length === 0) return '-';
  const shown = items.slice(0, max).join(',');
  return items.length > max ? `${shown} (+${items.length - max})` : shown;
}
