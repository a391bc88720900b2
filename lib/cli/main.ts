#!/usr/bin/env node
/**
 * The `switchboard` command: one file per subcommand, each exporting `run(argv)` that resolves with the
 * process exit code. This file only picks the subcommand.
 */
type Command = { run(argv: string[]): Promise<number>; summary: string };

const commands: Record<string, () => Promise<Command>> = Object.assign(Object.create(null), {
  serve: () => import('./serve.js'),
  config: () => import('./config.js'),
  bench: () => import('./bench.js'),
  token: () => import('./token.js'),
  spec: () => import('./spec.js'),
  request: () => import('./request.js'),
  answer: () => import('./answer.js'),
  publish: () => import('./publish.js'),
  subscribe: () => import('./subscribe.js'),
});

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const load = name === undefined ? undefined : commands[name];
  if (load === undefined) {
    const lines = await Promise.all(
      Object.entries(commands).map(async ([key, get]) => `  switchboard ${key.padEnd(10)} ${(await get()).summary}`),
    );
    process.stderr.write(`usage: switchboard <command> [options]\n\ncommands:\n${lines.join('\n')}\n`);
    return name === undefined || name === '--help' || name === 'help' ? 0 : 2;
  }
  return (await load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`switchboard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
