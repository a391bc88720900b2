/**
 * `switchboard call <name>.<method> <json>`: call a method of an announced service (protocol.md section
 * 14). The name and method split at the last dot (a method name has none). The command fetches the
 * announced contract, checks <json> against the method's request schema before sending (a message naming
 * what is wrong, and exit 2, as for every bad argument), then sends the request with the method as its
 * event and prints the answer as `switchboard request` does, with the same exit codes.
 */
import type { Client } from '../client/node.js';
import {
  DEFAULT_URL,
  ENV_USAGE,
  EXIT_CODES,
  LOCAL_USAGE,
  MESSAGE_USAGE,
  NAME_RULE,
  failure,
  formatMessage,
  grammar,
  oneShotClient,
  parseCommand,
  parseMilliseconds,
  readMessage,
  refusal,
  usage as usageOf,
} from './client-command.js';

const USAGE = `usage: switchboard call <name>.<method> <json> [--url ${DEFAULT_URL} | --local APP] [--name NAME]
                       [--timeout MS] [--raw]

Calls <method> of the service <name>: fetches the contract the service announced, checks <json>
against the method's request schema (exit 2 with what is wrong, nothing sent), sends it as a request
to <name> with the method as its event, and prints the answer as JSON. <name> and <method> split at
the last dot. --name and --timeout as for switchboard request (default timeout: 30000).
${MESSAGE_USAGE}
exit codes as switchboard request: 0 answered, 1 other failure (among them: no service <name>
announced), 2 usage (among them: no such method, a request its schema refuses), 3 no_responders,
4 timeout, 5 responder_gone, 6 responder_error, 7 unreachable, 8 disconnected, 9 shutting_down,
10 unauthorized, 11 forbidden, 12 name_taken

${LOCAL_USAGE}${ENV_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('call', USAGE, argv, { name: { type: 'string' }, timeout: { type: 'string', default: '30000' } });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 2) return usage('expected <name>.<method> and <json>');
  const [target, json] = positionals;
  const dot = target.lastIndexOf('.');
  const service = target.slice(0, Math.max(dot, 0));
  const method = target.slice(dot + 1);
  const { isName } = await grammar();
  if (dot <= 0 || !isName(service) || !isName(method)) return usage(`${JSON.stringify(target)} is not <name>.<method> (a name: ${NAME_RULE}; a method: the same without dots)`);
  const timeout = parseMilliseconds(values.timeout);
  if (timeout === undefined) return usage('--timeout must be a whole number of milliseconds >= 1');
  const read = await readMessage(json, values.raw);
  if ('problem' in read) return usage(read.problem);
  let client: Client;
  try {
    client = await oneShotClient(values.url, values.name, timeout, values.local);
  } catch (error) {
    return refusal('call', USAGE, error);
  }
  try {
    const [info] = await client.services(service);
    if (info === undefined) {
      process.stderr.write(`switchboard call: no service "${service}" is announced (or this identity may not send to it)\n`);
      return EXIT_CODES.other;
    }
    const contract = Object.hasOwn(info.methods, method) ? info.methods[method] : undefined;
    if (contract === undefined) return usage(`"${service}" has no method "${method}"; its methods: ${Object.keys(info.methods).join(', ')}`);
    const problem = await wireCheck(contract.request, read.message);
    if (problem !== undefined) return usage(`the request does not match the schema of ${service}.${method}: ${problem}`);
    process.stdout.write(formatMessage((await client.request(service, read.message, { timeout, event: method })).message, values.raw));
    return EXIT_CODES.ok;
  } catch (error) {
    return failure('call', error);
  } finally {
    await client.close();
  }
}

/**
 * What is wrong with `value` by `schema`, a schema that came off the wire: checked by walking it
 * (typebox/value), never compiled, so that someone else's schema never becomes generated code.
 */
async function wireCheck(schema: unknown, value: unknown): Promise<string | undefined> {
  const { Value } = await import('typebox/value');
  if (Value.Check(schema as never, value)) return undefined;
  const errors = [...Value.Errors(schema as never, value)].slice(0, 4) as Array<{ instancePath?: string; message?: string }>;
  return errors.map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
}

function usage(problem: string): number {
  return usageOf('call', USAGE, problem);
}
