/**
 * `switchboard config print`: the configuration `switchboard serve` would run with, given the same file,
 * environment and flags, as JSON with every default filled in. Files are shown by path (the auth file's
 * tokens never appear). An invalid configuration prints every problem and exits 2, as serve would.
 */
import { parseArgs } from 'node:util';
import { FLAG_OPTIONS, loadConfig, type FlagValues } from '../config/load.js';
import { FLAGS_USAGE, reportProblems } from './serve.js';

export const summary = 'print the effective configuration of serve (config print [-c FILE] [serve flags])';

const USAGE = `usage: switchboard config print [options]

Prints, as JSON, the configuration \`switchboard serve\` would run with: the file, the environment and
these flags, defaults filled in. Exits 2 naming every problem when it is not valid.

${FLAGS_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h' || action === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (action !== 'print') {
    process.stderr.write(`switchboard config: ${action === undefined ? 'say what to do' : `unknown action "${action}"`}\n\n${USAGE}`);
    return 2;
  }
  let flags: FlagValues;
  try {
    flags = parseArgs({ args: rest, options: FLAG_OPTIONS, strict: true }).values;
  } catch (error) {
    process.stderr.write(`switchboard config print: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (flags.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const loaded = loadConfig({ flags, env: process.env });
    for (const warning of loaded.warnings) process.stderr.write(`switchboard config print: ${warning}\n`);
    process.stdout.write(`${JSON.stringify(loaded.config, null, 2)}\n`);
    return 0;
  } catch (error) {
    return reportProblems('config print', error);
  }
}
