/**
 * `switchboard services [<name>]`: the services announced to the broker (protocol.md section 14) that
 * this identity may send to, as a table: id, version, members, methods, requests, errors, timeouts and
 * the broker's p50/p99 answer times; `--json` prints the raw list (contracts included). Exit codes as
 * every client command (EXIT_CODES in client-command.ts).
 */
import type { ServiceInfo } from '../client/node.js';
import { DEFAULT_URL, ENV_USAGE, EXIT_CODES, LOCAL_USAGE, NAME_RULE, failure, grammar, oneShotClient, parseCommand, refusal, usage as usageOf } from './client-command.js';
import { table } from './table.js';

const USAGE = `usage: switchboard services [<name>] [--url ${DEFAULT_URL} | --local APP] [--json]

Lists the services announced to the broker that this identity may send to (only <name> when given):
id, version, members (connections serving it), methods, and the requests, errors and timeouts the
broker counted, with the median and 99th percentile of its recent answer times in milliseconds.
--json prints the list as the broker sent it, with each method's request and answer JSON Schema.
exit codes: 0 listed (even when empty), 1 other failure, 2 usage, 7 unreachable, 10 unauthorized

${LOCAL_USAGE}${ENV_USAGE}`;

const TIMEOUT_MS = 10_000;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('services', USAGE, argv, { json: { type: 'boolean', default: false } });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 1) return usageOf('services', USAGE, 'expected at most one <name>');
  const [name] = positionals;
  if (name !== undefined && !(await grammar()).isName(name)) {
    return usageOf('services', USAGE, `${JSON.stringify(name)} is not a valid name (${NAME_RULE})`);
  }
  let client;
  try {
    client = await oneShotClient(values.url, undefined, TIMEOUT_MS, values.local);
  } catch (error) {
    return refusal('services', USAGE, error);
  }
  try {
    const list = await client.services(name);
    process.stdout.write(values.json ? `${JSON.stringify(list)}\n` : render(list));
    return EXIT_CODES.ok;
  } catch (error) {
    return failure('services', error);
  } finally {
    await client.close();
  }
}

const ms = (value: number | undefined) => (value === undefined ? '-' : String(value));

/** The table of `switchboard services`. */
export function render(list: readonly ServiceInfo[]): string {
  if (list.length === 0) return 'no services\n';
  const header = ['id', 'version', 'members', 'methods', 'requests', 'errors', 'timeouts', 'p50 ms', 'p99 ms'];
  const rows = list.map((s) => [
    s.id,
    s.version,
    String(s.members),
    Object.keys(s.methods).join(','),
    String(s.stats.requests),
    String(s.stats.errors),
    String(s.stats.timeouts),
    ms(s.stats.p50Ms),
    ms(s.stats.p99Ms),
  ]);
  return table([header, ...rows]);
}
