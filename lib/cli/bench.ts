/**
 * `switchboard bench`: the benchmark of issue 7 (lib/bench/): switchboard against the minimal relays
 * and its peers, each broker in its own process. Prints progress to stderr and the report to stdout;
 * exits 1 only when a system failed to run (a crash), never because of its numbers.
 */
import { USAGE, parseOptions } from '../bench/options.js';
import { writeFileSync } from 'node:fs';

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--cluster')) return cluster(argv);
  if (argv.includes('--durability')) return durability(argv);
  let parsed;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`switchboard bench: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [{ markdown, report }, { runBench }] = await Promise.all([import('../bench/report.js'), import('../bench/run.js')]);
  const command = ['switchboard', 'bench', ...argv].join(' ');
  const results = await runBench(parsed.options, command, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`\n${report(results)}`);
  if (parsed.options.markdownPath !== undefined) writeFileSync(parsed.options.markdownPath, markdown(results));
  const failed = results.results.filter((result) => result.failure !== undefined);
  for (const result of failed) process.stderr.write(`switchboard bench: ${result.system} failed in ${result.scenario}\n`);
  return failed.length > 0 ? 1 : 0;
}

/** `switchboard bench --cluster`: the cross-node comparison of lib/bench/cluster.ts. */
async function cluster(argv: string[]): Promise<number> {
  const { clusterCommand } = await import('../bench/cluster.js');
  return clusterCommand(argv, (text) => process.stdout.write(text), (text) => process.stderr.write(text));
}

/** `switchboard bench --durability`: what a mailbox costs, in memory and in Redis (lib/bench/durability.ts). */
async function durability(argv: string[]): Promise<number> {
  const { durabilityCommand } = await import('../bench/durability.js');
  return durabilityCommand(argv, (text) => process.stdout.write(text), (text) => process.stderr.write(text));
}
