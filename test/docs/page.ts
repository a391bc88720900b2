/**
 * How the docs test runs an html block: as a page in headless Chromium (Debian's, driven by
 * playwright-core, as test/client/browser.test.ts does), served from a tiny static server that, like the
 * clone's root, has `/dist/` and `/node_modules/typebox/`. What the page printed is its `console.log`
 * lines, each argument a string as is, anything else as JSON.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { Test } from 'tap';
import { matches } from './blocks.js';
import { eventually, PROGRAM_MS, ROOT } from './runners.js';

export const CHROMIUM = '/usr/bin/chromium';

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript' };

async function serve(t: Test, html: string): Promise<string> {
  const page = `<!doctype html><meta charset="utf-8"><title>docs</title><link rel="icon" href="data:,">\n${html}`;
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    const file = join(ROOT, path);
    const allowed = path.startsWith('/dist/') || path.startsWith('/node_modules/typebox/');
    if (!allowed || !file.startsWith(ROOT) || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
}

export interface PageRun {
  printed: string;
  /** Uncaught errors and console errors of the page. */
  problems: string[];
}

/** Load `html` and wait (at most PROGRAM_MS) until what it printed is `expected`. */
export async function runPage(t: Test, html: string, expected: string): Promise<PageRun> {
  const origin = await serve(t, html);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    return await printed(browser, origin, expected);
  } finally {
    await browser.close(); // the page's clients leave the broker now, before the test checks it
  }
}

async function printed(browser: Browser, origin: string, expected: string): Promise<PageRun> {
  const page = await browser.newPage();
  const lines: string[] = [];
  const problems: string[] = [];
  let order = Promise.resolve();
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
    if (message.type() !== 'log') return;
    const values = Promise.all(message.args().map((arg) => arg.jsonValue() as Promise<unknown>));
    order = order.then(async () => {
      lines.push((await values).map((value) => (typeof value === 'string' ? value : JSON.stringify(value))).join(' '));
    });
  });
  await page.goto(origin, { timeout: PROGRAM_MS });
  await eventually(() => problems.length > 0 || matches(expected, lines.join('\n')), PROGRAM_MS);
  await order;
  return { printed: lines.join('\n'), problems };
}
