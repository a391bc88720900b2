/**
 * The suite runner: loads the case files of the chosen profiles (one directory per profile under
 * spec/cases), runs them one after another against a URL or a cluster's URLs, and writes TAP:
 * `ok N - <case> [rules]` per case, the reason and transcript of each failure as comments, and a
 * closing `N passed, N failed`.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaseFormatError, parseCase, type Case } from './case.js';
import { runCase, type CaseResult } from './execute.js';
import type { Json } from './json.js';

/** spec/cases of this package: two levels up from lib/conformance (sources) and dist/conformance (build). */
export const CASES_DIR = fileURLToPath(new URL('../../spec/cases/', import.meta.url));
export const PROFILES = ['legacy', 'extended'] as const;

export interface SuiteOptions {
  /** The broker; or give `urls` (one or more), which wins when both are given. */
  readonly url?: string;
  /**
   * The nodes of one cluster: the i-th peer each case declares connects to `urls[i % urls.length]`,
   * raw handshake steps to `urls[0]` (execute.ts).
   */
  readonly urls?: readonly string[];
  /** Profile names: directories of `casesDir`. */
  readonly profiles: readonly string[];
  readonly casesDir?: string;
  /** Run only the cases whose id contains this text. */
  readonly grep?: string;
  /** The broker's settings that differ from protocol.md's defaults; cases that require other settings are skipped. */
  readonly settings?: Readonly<Record<string, Json>>;
  /** Where the TAP lines go; default: standard output. */
  readonly write?: (line: string) => void;
}

export interface SuiteResult {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly results: readonly CaseResult[];
}

/** Every case of one profile, sorted by file name; a file that is not a valid case comes back as its error. */
export async function loadProfile(profile: string, casesDir = CASES_DIR): Promise<Array<Case | CaseFormatError>> {
  const dir = join(casesDir, profile);
  let files: string[];
  try {
    files = (await readdir(dir)).filter((file) => file.endsWith('.json')).sort();
  } catch (error) {
    throw new Error(`profile "${profile}": cannot read ${dir}`, { cause: error });
  }
  return Promise.all(
    files.map(async (file) => {
      const id = `${profile}/${file.slice(0, -'.json'.length)}`;
      try {
        return parseCase(id, await readFile(join(dir, file), 'utf8'));
      } catch (error) {
        if (error instanceof CaseFormatError) return error;
        throw error;
      }
    }),
  );
}

export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const urls = options.urls ?? (options.url === undefined ? [] : [options.url]);
  if (urls.length === 0) throw new TypeError('runSuite: give the broker as url, or the nodes of a cluster as urls');
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const loaded = (await Promise.all(options.profiles.map((profile) => loadProfile(profile, options.casesDir)))).flat();
  const cases = loaded.filter((c) => options.grep === undefined || c.id.includes(options.grep));
  const runId = `sb${randomBytes(3).toString('hex')}`;
  write('TAP version 14');
  write(`# switchboard conformance suite, profiles ${options.profiles.join(', ')}, against ${urls.join(' ')} (run ${runId})`);
  write(`1..${cases.length}`);
  const results: CaseResult[] = [];
  for (const [n, c] of cases.entries()) {
    const result =
      c instanceof CaseFormatError
        ? { id: c.id, rules: [], status: 'fail' as const, reason: `invalid case file: ${c.problems.join('; ')}`, transcript: [], run: '' }
        : await runCase(c, urls, `${runId}-${String(n + 1).padStart(3, '0')}`, options.settings);
    results.push(result);
    report(n + 1, c, result, write);
  }
  const count = (status: CaseResult['status']) => results.filter((r) => r.status === status).length;
  const summary = { passed: count('pass'), failed: count('fail'), skipped: count('skip'), results };
  if (summary.skipped > 0) write(`# skipped ${summary.skipped}: ${results.filter((r) => r.status === 'skip').map((r) => r.id).join(', ')}`);
  write(`${summary.passed} passed, ${summary.failed} failed`);
  return summary;
}

function report(n: number, c: Case | CaseFormatError, result: CaseResult, write: (line: string) => void): void {
  const title = `${result.id} [${result.rules.join(', ')}]`;
  if (result.status === 'pass') return write(`ok ${n} - ${title}`);
  if (result.status === 'skip') return write(`ok ${n} - ${title} # SKIP ${result.reason}`);
  write(`not ok ${n} - ${title}`);
  if (!(c instanceof CaseFormatError)) write(`#   case: ${c.description}`);
  for (const line of (result.reason ?? '').split('\n')) write(`#   ${line}`);
  if (result.transcript.length === 0) return;
  write(`#   transcript ({run} = ${result.run}; ms since the case started; -> sent, <- received):`);
  for (const line of result.transcript) write(`#   ${line}`);
}
