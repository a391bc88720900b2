/**
 * `switchboard spec <url> [<url> ...]`: run the conformance suite (spec/cases, spec/README.md) against a
 * broker at `url`, or a cluster's nodes, and print TAP. Exit code 0 when every case passed, 1 when one failed, 2 on a usage error.
 */
import { parseArgs } from 'node:util';
import type { Json } from '../conformance/index.js';

const USAGE = `usage: switchboard spec <url> [<url> ...] [--profile legacy|extended|all] [--grep TEXT] [--settings JSON] [--cases DIR]

  <url>       the broker, e.g. ws://127.0.0.1:9042/; several: the nodes of one cluster, over which
              each case's peers are spread (the i-th peer to the (i mod n)-th url)
  --profile   legacy: the wsmsgbroker 1.7.2 behaviour; extended: every rule of protocol.md;
              all (default): both
  --grep      run only the cases whose id contains TEXT
  --settings  the broker's settings that differ from protocol.md's defaults, as a JSON object
              (e.g. '{"heartbeatMs":100}'); cases that require other settings are skipped
  --cases     a directory with one subdirectory of case files per profile (default: spec/cases)
`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        profile: { type: 'string', default: 'all' },
        grep: { type: 'string' },
        cases: { type: 'string' },
        settings: { type: 'string', default: '{}' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (error) {
    process.stderr.write(`switchboard spec: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { PROFILES, runSuite } = await import('../conformance/index.js');
  const profiles = values.profile === 'all' ? [...PROFILES] : values.profile.split(',');
  if (positionals.length === 0 || positionals.some((u) => !/^wss?:\/\//.test(u))) {
    process.stderr.write(`switchboard spec: expected ws:// or wss:// urls\n${USAGE}`);
    return 2;
  }
  if (values.cases === undefined && profiles.some((p) => !(PROFILES as readonly string[]).includes(p))) {
    process.stderr.write(`switchboard spec: unknown profile "${values.profile}"\n${USAGE}`);
    return 2;
  }
  let settings: unknown;
  try {
    settings = JSON.parse(values.settings);
  } catch {
    settings = undefined;
  }
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    process.stderr.write(`switchboard spec: --settings must be a JSON object\n${USAGE}`);
    return 2;
  }
  const result = await runSuite({ urls: positionals, profiles, grep: values.grep, casesDir: values.cases, settings: settings as Record<string, Json> });
  return result.failed === 0 ? 0 : 1;
}
