/**
 * The client in a real browser: headless Chromium (Debian's, driven by playwright-core) loads the
 * compiled `dist/client/browser.js` as plain ES modules, with an import map for typebox and no bundler,
 * from a tiny static server, and talks to a real broker both ways: the page requests from a Node client,
 * and answers a Node client's requests. Needs a build and /usr/bin/chromium (CI's .ci/run installs it).
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startBroker } from '../fixtures/broker.js';
import { built } from '../fixtures/broker-process.js';
import { readyClient, within } from '../fixtures/clients.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? built() : `${CHROMIUM} is missing: apt-get install -y chromium`;

/** Import map entries for every subpath typebox exports, from its package.json. */
function typeboxImports(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules/typebox/package.json'), 'utf8')) as {
    exports: Record<string, { import: string }>;
  };
  const imports: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    imports[subpath === '.' ? 'typebox' : `typebox/${subpath.slice(2)}`] = `/node_modules/typebox/${target.import.replace(/^\.\//, '')}`;
  }
  return imports;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>switchboard</title><link rel="icon" href="data:,">
<script type="importmap">${JSON.stringify({ imports: typeboxImports() })}</script>
<script type="module">
  import * as switchboard from '/dist/client/browser.js';
  window.switchboard = switchboard;
  window.loaded = true;
</script>`;

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html' };

/** Serves the page, dist/ and node_modules/typebox/ only. */
async function staticServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    const allowed = path.startsWith('/dist/') || path.startsWith('/node_modules/typebox/');
    const file = join(ROOT, path);
    if (!allowed || !file.startsWith(ROOT) || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

t.test('a page in headless Chromium requests from Node and answers Node, over a real broker', { skip, timeout: 90_000 }, async (t) => {
  const { url } = await startBroker(t);
  const { server, origin } = await staticServer();
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const browser: Browser = await within(
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }),
    30_000,
    'chromium launch',
  );
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
  await page.goto(origin);
  await page.waitForFunction(() => (window as unknown as { loaded?: boolean }).loaded === true, undefined, { timeout: 10_000 });

  const node = await readyClient(t, url, { name: 'node-svc' });
  node.handle((message, ctx) => ({ echo: message, by: 'node', asker: ctx.from }));

  // The page connects with the browser's own WebSocket, serves "page-svc", and asks "node-svc".
  const fromPage = await page.evaluate(async (brokerUrl) => {
    type Api = typeof import('../../lib/client/browser.js');
    const { Client } = (window as unknown as { switchboard: Api }).switchboard;
    const client = new Client(brokerUrl, { name: 'page-svc' });
    (window as unknown as { client: InstanceType<Api['Client']> }).client = client;
    client.handle((message, ctx) => {
      if (message === 'fail') throw Object.assign(new Error('refused in the page'), { code: 'page_says_no' });
      return { doubled: (message as number) * 2, agent: navigator.userAgent.includes('Chrome'), asker: ctx.from };
    });
    await client.ready;
    const answer = await client.request('node-svc', { hi: 'from the page' });
    const failure = await client.request('nobody', 1).catch((error: { code: string; name: string }) => ({ code: error.code, name: error.name }));
    return { answer, failure, status: client.status };
  }, url);
  t.same(fromPage.answer, { from: 'node-svc', message: { echo: { hi: 'from the page' }, by: 'node', asker: 'page-svc' } });
  t.same(fromPage.failure, { code: 'no_responders', name: 'SwitchboardError' }, 'coded errors in the browser too');
  t.equal(fromPage.status, 'ready');

  t.same(await node.request('page-svc', 21), { from: 'page-svc', message: { doubled: 42, agent: true, asker: 'node-svc' } }, 'Node asks, the page answers');
  t.match(await node.request('page-svc', 'fail').catch((e: unknown) => e), { code: 'responder_error', remoteCode: 'page_says_no', remoteMessage: 'refused in the page' });

  await page.evaluate(() => (window as unknown as { client: { close(): Promise<void> } }).client.close());
  t.same(problems, [], 'no errors in the page');
});
