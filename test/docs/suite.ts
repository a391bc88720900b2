/**
 * The tests of one README's code blocks: one test that every block is run or marked `not run` with a
 * reason, and one test per block that runs it against a real broker on a free port (its address put in
 * place of the documented localhost:9042) and compares what it printed with its `<!-- expect -->`.
 * blocks.ts reads the comments; runners.ts runs js, ts and sh blocks; page.ts runs html blocks.
 */
import type { Test } from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrokerOptions } from '../../lib/broker/index.js';
import { Client } from '../../lib/client/node.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { built } from '../fixtures/broker-process.js';
import { within, WAIT_MS } from '../fixtures/clients.js';
import { addressed, blocks, matches, type Block } from './blocks.js';
import { CHROMIUM, runPage } from './page.js';
import { ROOT, runProgram, runShell, type Workspace } from './runners.js';

const RUN_HERE = { js: 'program', ts: 'TypeScript program', sh: 'shell session', html: 'page in Chromium' } as const;

const where = (block: Block) => `${block.file}:${block.line}`;

/** The blocks of `file` (a path from the repository's root). */
export function readmeBlocks(file: string): Block[] {
  return blocks(file, readFileSync(join(ROOT, file), 'utf8'));
}

/** What `<!-- with: NAME -->` runs beside a block: the `calc` of "Two clients", in this process. */
async function companion(t: Test, name: string, url: string): Promise<void> {
  if (name !== 'calc') throw new Error(`no companion named "${name}" (known: calc)`);
  const calc = new Client(url, { name: 'calc' });
  t.teardown(() => calc.close());
  calc.handle((message) => {
    const [a, b] = (message as { add: [number, number] }).add;
    return a + b;
  });
  await within(calc.ready, WAIT_MS, 'calc ready');
}

/**
 * Register the tests of `file`'s blocks on `t`. `elsewhere` names the languages whose blocks the caller
 * checks itself (the auth file's json): they count as run, and get no test here.
 */
export function testBlocks(t: Test, file: string, ws: Workspace, elsewhere: string[] = []): void {
  const all = readmeBlocks(file);
  const skip = built();

  t.test(`every code block of ${file} is run by the docs test, or marked not run with a reason`, async (t) => {
    t.ok(all.length > 0, `found ${all.length} code blocks`);
    for (const block of all) {
      if (block.notRun !== undefined) {
        t.pass(`${where(block)} (${block.lang}) is not run: ${block.notRun}`);
        continue;
      }
      const runnable = Object.hasOwn(RUN_HERE, block.lang) || elsewhere.includes(block.lang);
      t.ok(runnable, `${where(block)}: a ${block.lang || 'plain'} block, which the docs test can run`);
      if (Object.hasOwn(RUN_HERE, block.lang)) t.not(block.expect, undefined, `${where(block)}: says what it prints (<!-- expect: ... -->)`);
    }
  });

  for (const block of all.filter((b) => b.notRun === undefined && Object.hasOwn(RUN_HERE, b.lang))) {
    const lang = block.lang as keyof typeof RUN_HERE;
    const noBrowser = lang === 'html' && !existsSync(CHROMIUM) ? `${CHROMIUM} is missing: apt-get install -y chromium` : undefined;
    t.test(`${where(block)}: the ${RUN_HERE[lang]} prints what the README says it prints`, { skip: noBrowser ?? skip, timeout: 90_000 }, async (t) => {
      const expected = block.expect ?? '';
      const { broker, port } = await startBroker(t, (block.broker ?? {}) as BrokerOptions);
      const url = `ws://127.0.0.1:${port}${(block.broker?.path as string | undefined) ?? '/'}`;
      for (const name of block.with) await companion(t, name, url);
      const code = addressed(block.code, port);
      if (lang === 'sh') {
        const ran = await runShell(ws, code, url, expected);
        t.same(ran.problems, [], 'every command ran and stopped cleanly', { log: ran.log });
        t.ok(matches(expected, ran.printed), 'prints what the README says', { printed: ran.printed, promised: expected, log: ran.log });
      } else if (lang === 'html') {
        const ran = await runPage(t, code, expected);
        t.same(ran.problems, [], 'the page has no errors');
        t.ok(matches(expected, ran.printed), 'prints what the README says', { printed: ran.printed, promised: expected });
      } else {
        const ran = await runProgram(ws, `block-${block.file.replace(/\W/g, '-')}-${block.line}`, lang, code);
        t.equal(ran.code, 0, 'exits 0', { stderr: ran.stderr });
        t.ok(matches(expected, ran.stdout), 'prints what the README says', { printed: ran.stdout, promised: expected, stderr: ran.stderr });
      }
      const companions = { connections: block.with.length, names: block.with.length };
      t.same(await drained(broker, 2000, { ...NOTHING_HELD, ...companions }), { ...NOTHING_HELD, ...companions }, 'leaves nothing behind on the broker');
    });
  }
}
