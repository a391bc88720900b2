#!/usr/bin/env node
/**
 * The `switchboard` command: one file per subcommand, each exporting `run(argv)` that resolves with the
 * process exit code. This file only picks the subcommand, and answers `--version` and `--help` itself.
 * A subcommand's module is imported only when it runs (the summaries are here for that reason): a CLI
 * call loads what its command needs, not the broker, ws and typebox for every `--help`.
 */
import { readFileSync } from 'node:fs';
import { EXIT_CODES } from './client-command.js';

type Command = { run(argv: string[]): Promise<number> };

const commands = new Map<string, { summary: string; load: () => Promise<Command> }>([
  ['serve', { summary: 'run the broker (-c FILE, --port 9042, --host, --auth FILE, --limit name=value, --log-format; SIGHUP reloads)', load: () => import('./serve.js') }],
  ['config', { summary: 'print the effective configuration of serve (config print [-c FILE] [serve flags])', load: () => import('./config.js') }],
  ['request', { summary: 'send one request and print its answer (--url, --name, --timeout, --gather, --raw)', load: () => import('./request.js') }],
  ['answer', { summary: "serve a name: answer requests with an echo or a command's output (--url, --exec)", load: () => import('./answer.js') }],
  ['publish', { summary: 'publish to a topic and print the receiver count (--url, --name, --event, --request, --gather)', load: () => import('./publish.js') }],
  ['subscribe', { summary: 'print what is published to a topic, one JSON line each; --answer or --exec answers', load: () => import('./subscribe.js') }],
  ['services', { summary: 'list the announced services, their methods, members and stats (--url, --json)', load: () => import('./services.js') }],
  ['call', { summary: "call a service's method, checked against its announced schema first (<name>.<method> <json>)", load: () => import('./call.js') }],
  ['server', { summary: "a running broker through its monitor: report, check (exit codes), kick (--monitor URL)", load: () => import('./server.js') }],
  ['token', { summary: 'make a random token and print the hash for the auth configuration', load: () => import('./token.js') }],
  ['spec', { summary: 'run the conformance suite against a broker (<url> [--profile legacy|extended|all])', load: () => import('./spec.js') }],
  ['bench', { summary: 'benchmark switchboard against minimal relays, wsmsgbroker, NATS and socket.io (--quick for CI)', load: () => import('./bench.js') }],
]);

function help(): string {
  const lines = [...commands].map(([name, { summary }]) => `  switchboard ${name.padEnd(10)} ${summary}`);
  return `usage: switchboard <command> [options]    (switchboard <command> --help for its options)

commands:
${lines.join('\n')}
  switchboard --version  print the version
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = name === undefined ? undefined : commands.get(name);
  if (command === undefined) {
    const problem = name === undefined ? 'say which command to run' : `unknown command ${JSON.stringify(name)}${suggestion(name)}`;
    process.stderr.write(`switchboard: ${problem}\n\n${help()}`);
    return EXIT_CODES.usage;
  }
  return (await command.load()).run(rest);
}

/** The package's version, from its package.json (two folders up, in the clone and in the package alike). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** `; did you mean "request"?` for a command within two edits of `name`, else nothing. */
function suggestion(name: string): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const known of commands.keys()) {
    const distance = editDistance(name.toLowerCase(), known);
    if (distance < bestDistance) [best, bestDistance] = [known, distance];
  }
  return best === undefined ? '' : `; did you mean "${best}"?`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`switchboard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT_CODES.other;
  },
);
