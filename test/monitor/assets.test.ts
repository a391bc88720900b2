/**
 * The dashboard's files (lib/monitor/assets.ts) over real HTTP: the page with its import map and
 * Content-Security-Policy, the UI's modules, the browser libraries and the compiled browser client with
 * typebox, each with its content type; served to anyone (they are the package's), and nothing outside the
 * allow-list, however the path is spelled.
 */
import t from 'tap';
import { request } from 'node:http';
import { createHash } from 'node:crypto';
import { sha256, tokenPolicy } from '../../lib/broker/index.js';
import { call, startMonitored } from '../fixtures/monitor.js';

/** A GET with the path exactly as given (fetch would resolve `..` before sending it). */
function rawGet(monitor: string, path: string): Promise<{ status: number; type: string | undefined }> {
  const { hostname, port } = new URL(monitor);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET', timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

t.test('the page: its import map, allowed by hash in its Content-Security-Policy, and no framing', async (t) => {
  const { monitor } = await startMonitored(t);
  for (const path of ['/ui', '/ui/']) {
    const page = await call(monitor, path);
    t.equal(page.status, 200, path);
    t.match(page.headers.get('content-type'), /^text\/html/);
  }
  const page = await call(monitor, '/ui');
  const map = /<script type="importmap">(.*?)<\/script>/.exec(page.text)?.[1];
  t.ok(map !== undefined, 'an import map');
  const { imports } = JSON.parse(map!) as { imports: Record<string, string> };
  t.match(imports, {
    preact: '/ui/vendor/preact/dist/preact.mjs',
    'preact/hooks': '/ui/vendor/preact/hooks/dist/hooks.mjs',
    htm: '/ui/vendor/htm/dist/htm.module.js',
    uplot: '/ui/vendor/uplot/dist/uPlot.esm.js',
    typebox: '/ui/vendor/typebox/build/index.mjs',
    'typebox/compile': '/ui/vendor/typebox/build/compile/index.mjs',
  });
  const policy = page.headers.get('content-security-policy') ?? '';
  const hash = createHash('sha256').update(map!).digest('base64');
  t.match(policy, `script-src 'self' 'sha256-${hash}'`, 'the import map, and scripts of the monitor only');
  t.match(policy, "frame-ancestors 'none'");
  t.equal(page.headers.get('x-frame-options'), 'DENY');
  for (const target of Object.values(imports)) t.equal((await call(monitor, target)).status, 200, `${target} is served`);
});

t.test('modules, styles and the browser client with their content types', async (t) => {
  const { monitor } = await startMonitored(t);
  const types: Array<[string, RegExp]> = [
    ['/ui/app.js', /^text\/javascript/],
    ['/ui/style.css', /^text\/css/],
    ['/ui/vendor/uplot/dist/uPlot.min.css', /^text\/css/],
    ['/ui/lib/client/browser.js', /^text\/javascript/],
    ['/ui/lib/protocol/index.js', /^text\/javascript/],
  ];
  for (const [path, type] of types) {
    const answer = await call(monitor, path);
    t.equal(answer.status, 200, path);
    t.match(answer.headers.get('content-type'), type);
    t.equal(answer.headers.get('x-content-type-options'), 'nosniff');
  }
  t.match((await call(monitor, '/ui/vendor/preact/dist/preact.mjs')).headers.get('cache-control'), /max-age=3600/, 'library files may be cached');
  t.equal((await call(monitor, '/ui/app.js')).headers.get('cache-control'), 'no-cache', 'the UI\'s own files are checked each time');
});

t.test('only the allow-list is served: no other file, however the path is spelled', async (t) => {
  const { monitor } = await startMonitored(t);
  for (const path of [
    '/ui/../package.json',
    '/ui/%2e%2e/package.json',
    '/ui/vendor/preact/package.json',
    '/ui/vendor/preact/../../../package.json',
    '/ui/index.html',
    '/ui/lib/client/browser.d.ts',
    '/ui/lib/client/browser.js.map',
    '/ui/lib/broker/broker.js',
    '/ui//app.js',
    '/ui/app.js/',
    '/ui/vendor/typebox/package.json',
  ]) {
    t.equal((await rawGet(monitor, path)).status, 404, path);
  }
  t.equal((await call(monitor, '/ui/app.js', { method: 'POST' })).status, 405);
});

t.test('the page and its files are public; what it shows is not', async (t) => {
  const identity = { id: 'viewer', tokenSha256: sha256('viewer-token').toString('hex'), permissions: { monitor: ['read'] } };
  const { monitor } = await startMonitored(t, { auth: tokenPolicy([identity]) });
  t.equal((await call(monitor, '/ui')).status, 200);
  t.equal((await call(monitor, '/ui/app.js')).status, 200);
  t.equal((await call(monitor, '/v1/access')).status, 401);
  t.equal((await call(monitor, '/v1/server')).status, 401);
});
