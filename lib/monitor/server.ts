/**
 * The monitor listener (issue 17; lib/monitor/README.md): a plain HTTP server on its own address, off
 * by default, that the broker starts in listen() and stops last in close(), so that `/readyz` answers
 * 503 for the whole shutdown. A request passes a short checklist, each failure answering with its own
 * status: a known path (404), a method it takes (405), access (401, 403, access.ts), and for a POST a
 * same-origin caller and a monitor that is not read-only (403); then its handler. It also serves the
 * dashboard (issue 18): its files under `/ui/` (assets.ts) and the snapshot stream `/v1/stream` (stream.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { CLOSE_CODES } from '../protocol/wire.js';
import { checkAccess, type Access } from './access.js';
import { Assets, type Asset } from './assets.js';
import {
  connectionQuery,
  connectionsView,
  holdersOf,
  mailboxesView,
  nameView,
  namesView,
  serverView,
  topicsView,
  type MonitoredBroker,
  type ServerInfo,
} from './introspect.js';
import { BrokerExporter, CONTENT_TYPE } from './prometheus.js';
import { Sampler } from './snapshot.js';
import { SnapshotStreams } from './stream.js';

export interface Monitor {
  /** `http://host:port`. */
  readonly url: string;
  /** Stop listening and close every monitor connection. Idempotent. */
  close(): Promise<void>;
}

/** Where the monitor listens, and whether it refuses to act (kicks). */
export interface MonitorSettings {
  host: string;
  port: number;
  /** Refuse every POST (the kicks) with 403, and tell the dashboard to hide its act controls. Default: false. */
  readonly?: boolean;
}

/** Why a kicked connection was closed (with CLOSE_CODES.kicked, 4010). */
export const KICK_REASON = 'kicked by an operator';

/** Monitor connections open at once; more wait in the kernel's backlog (or are refused by Node). */
const MAX_CONNECTIONS = 64;
const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;
/** On close, how long requests being answered may take before their connections are cut. */
const CLOSE_GRACE_MS = 1000;

type Reply = { status: number; body: unknown; headers?: Record<string, string> } | { stream(res: ServerResponse): void };

interface Route {
  method: 'GET' | 'POST';
  /** Public routes answer anyone: a probe needs no token, and they tell nothing but the status. */
  public?: boolean;
  handle(params: { query: URLSearchParams; segments: string[]; req: IncomingMessage }): Reply | Promise<Reply>;
}

type Router = (path: string) => { route: Route; segments: string[] } | undefined;

const VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Start the monitor of `broker` on `address`; rejects when the address cannot be listened on. */
export async function startMonitor(broker: MonitoredBroker, address: MonitorSettings, brokerUrl: string): Promise<Monitor> {
  const info: ServerInfo = { version: VERSION, startedAt: new Date(), url: brokerUrl };
  const exporter = new BrokerExporter(broker, { version: VERSION });
  const sampler = new Sampler(broker);
  const streams = new SnapshotStreams(
    () => {
      const snapshot = sampler.take();
      return { snapshot, point: snapshot.point };
    },
    () => sampler.reset(),
  );
  const router = routerOf(broker, { info, exporter, streams, readonly: address.readonly === true });
  const server = createServer((req, res) => {
    serve(broker, router, address.readonly === true, req, res).catch((error: unknown) => {
      broker.fault(new Error('the monitor failed while answering a request', { cause: error }));
      if (!res.headersSent) reply(res, { status: 500, body: { error: 'internal_error', message: 'the monitor failed' } });
      else res.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.on('clientError', (_error, socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    exporter.close();
    streams.close();
    throw new Error(`the monitor cannot listen on ${address.host}:${address.port}: ${(error as Error).message}`, { cause: error });
  }
  const { port } = server.address() as AddressInfo;
  const shown = address.host.includes(':') ? `[${address.host}]` : address.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${port}`,
    close: () => (closing ??= stop(server, exporter, streams)),
  };
}

/**
 * End the streams (they would otherwise hold the close for its whole grace), stop accepting, let the
 * requests being answered finish (a probe's 503, a last scrape), then cut the rest.
 */
async function stop(server: Server, exporter: BrokerExporter, streams: SnapshotStreams): Promise<void> {
  streams.close();
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
  await stopped;
  clearTimeout(cut);
  exporter.close();
}

interface Parts {
  info: ServerInfo;
  exporter: BrokerExporter;
  streams: SnapshotStreams;
  readonly: boolean;
}

function routerOf(broker: MonitoredBroker, { info, exporter, streams, readonly }: Parts): Router {
  const json = (body: unknown): Reply => ({ status: 200, body });
  const notFound = (message: string): Reply => ({ status: 404, body: { error: 'not_found', message } });
  const kick = (ids: string[]): Reply => {
    for (const id of ids) broker.sessionById(id)?.close(CLOSE_CODES.kicked, KICK_REASON);
    return json({ kicked: ids });
  };
  const routes = new Map<string, Route>([
    ['/livez', { method: 'GET', public: true, handle: () => json({ status: 'ok' }) }],
    [
      '/readyz',
      {
        method: 'GET',
        public: true,
        handle: ({ query }) => {
          const accepting = broker.acceptingRequests;
          // A cluster node without a lease refuses names and requests to other nodes (protocol.md section 16).
          const leased = broker.cluster?.live ?? true;
          const ready = accepting && leased;
          const body: Record<string, unknown> = { status: !accepting ? 'shutting_down' : leased ? 'ready' : 'no_cluster_lease' };
          if (query.has('verbose')) {
            body.checks = [{ name: 'shutdown', ok: accepting, detail: accepting ? 'not shutting down' : 'the broker is shutting down' }];
            if (broker.cluster !== undefined) {
              const detail = leased ? `node ${broker.cluster.id} holds its lease` : `node ${broker.cluster.id} holds no lease: Redis unreachable or too slow`;
              (body.checks as unknown[]).push({ name: 'cluster', ok: leased, detail });
            }
          }
          return { status: ready ? 200 : 503, body };
        },
      },
    ],
    [
      '/metrics',
      {
        method: 'GET',
        handle: async () => ({ status: 200, body: await exporter.scrape(), headers: { 'content-type': CONTENT_TYPE } }),
      },
    ],
    ['/v1/server', { method: 'GET', handle: () => json(serverView(broker, info)) }],
    [
      '/v1/access',
      {
        method: 'GET',
        handle: async ({ req }) => {
          // What this caller may do, so that the dashboard shows only the controls the monitor would accept.
          const read = await checkAccess(broker, req, 'read');
          const write = !readonly && (await checkAccess(broker, req, 'write')).allowed;
          return json({ auth: broker.auth !== undefined, readonly, write, identity: read.allowed ? read.identity : null });
        },
      },
    ],
    [
      '/v1/stream',
      {
        method: 'GET',
        handle: () => ({
          stream: (res) => {
            if (streams.open(res)) return;
            const message = `at most ${streams.max} streams are served at once`;
            reply(res, { status: 503, body: { error: 'unavailable', message }, headers: { 'retry-after': '5' } });
          },
        }),
      },
    ],
    [
      '/v1/connections',
      {
        method: 'GET',
        handle: ({ query }) => {
          const parsed = connectionQuery(query);
          if ('problems' in parsed) return { status: 400, body: { error: 'bad_request', message: parsed.problems.join('; ') } };
          return json(connectionsView(broker, parsed.query));
        },
      },
    ],
    ['/v1/names', { method: 'GET', handle: () => json(namesView(broker)) }],
    [
      '/v1/names/{name}',
      {
        method: 'GET',
        handle: ({ segments: [name] }) => {
          const view = nameView(broker, name);
          return view === undefined ? notFound(`the name "${name}" is not held, has no mailbox and no requests counted`) : json(view);
        },
      },
    ],
    ['/v1/topics', { method: 'GET', handle: () => json(topicsView(broker)) }],
    ['/v1/mailboxes', { method: 'GET', handle: () => json(mailboxesView(broker)) }],
    [
      '/v1/connections/{id}/kick',
      {
        method: 'POST',
        handle: ({ segments: [id] }) => {
          if (broker.sessionById(id)?.isOpen !== true) return notFound(`no open connection has the id "${id}"`);
          return kick([id]);
        },
      },
    ],
    [
      '/v1/names/{name}/kick',
      {
        method: 'POST',
        handle: ({ segments: [name] }) => {
          const holders = holdersOf(broker, name).filter((session) => session.isOpen);
          if (holders.length === 0) return notFound(`no open connection holds the name "${name}"`);
          return kick(holders.map((session) => session.id));
        },
      },
    ],
  ]);
  // The dashboard's files are listed at its first request: a monitor nobody opens it on never reads them.
  let assets: Assets | undefined;
  const page: Route = {
    method: 'GET',
    public: true,
    handle: () => {
      const { html, policy } = (assets ??= new Assets()).page;
      return { status: 200, body: html, headers: { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': policy } };
    },
  };
  const file = (asset: Asset): Route => ({
    method: 'GET',
    public: true,
    handle: async () => ({
      status: 200,
      body: await (assets as Assets).read(asset),
      headers: { ...PAGE_HEADERS, 'content-type': asset.type, 'cache-control': asset.immutable ? 'max-age=3600' : 'no-cache' },
    }),
  });
  return (path) => {
    if (path === '/ui' || path === '/ui/') return { route: page, segments: [] };
    if (path.startsWith('/ui/')) {
      const asset = (assets ??= new Assets()).get(path);
      return asset === undefined ? undefined : { route: file(asset), segments: [] };
    }
    return match(routes, path);
  };
}

/** Headers of the dashboard's page and files: never framed (a kick button under another site's page), never sniffed. */
const PAGE_HEADERS = { 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' };

/**
 * The route of a path and its parameters. The path is split before it is decoded, so a name with a `/`
 * (sent as `%2F`) stays one parameter; undefined when the path is no route's.
 */
function match(routes: Map<string, Route>, path: string): { route: Route; segments: string[] } | undefined {
  if (!path.includes('{')) {
    const exact = routes.get(path);
    if (exact !== undefined) return { route: exact, segments: [] };
  }
  const parts = path.split('/');
  if (parts[0] !== '' || parts[1] !== 'v1' || parts[3] === undefined || parts[3] === '') return undefined;
  let pattern: string | undefined;
  if (parts.length === 4 && parts[2] === 'names') pattern = '/v1/names/{name}';
  if (parts.length === 5 && parts[4] === 'kick') pattern = `/v1/${parts[2]}/${parts[2] === 'names' ? '{name}' : '{id}'}/kick`;
  const route = pattern === undefined ? undefined : routes.get(pattern);
  return route === undefined ? undefined : { route, segments: [decodeURIComponent(parts[3])] };
}

/** True when a browser sent the request from a page of another origin (a form or script on another site). */
function crossOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

async function serve(broker: MonitoredBroker, router: Router, readonly: boolean, req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume(); // no route reads a body
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
  let found: ReturnType<Router>;
  try {
    found = router(path);
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    return reply(res, { status: 400, body: { error: 'bad_request', message: 'the path is not validly percent-encoded' } });
  }
  if (found === undefined) return reply(res, { status: 404, body: { error: 'not_found', message: `no such endpoint: ${path}` } });
  const { route, segments } = found;
  if (req.method !== route.method) {
    const body = { error: 'method_not_allowed', message: `${path} takes ${route.method}` };
    return reply(res, { status: 405, body, headers: { allow: route.method } });
  }
  if (route.public !== true) {
    const access: Access = route.method === 'GET' ? 'read' : 'write';
    const verdict = await checkAccess(broker, req, access);
    if (!verdict.allowed) {
      const headers: Record<string, string> = verdict.status === 401 ? { 'www-authenticate': 'Bearer realm="switchboard monitor"' } : {};
      return reply(res, { status: verdict.status, body: { error: verdict.error, message: verdict.message }, headers });
    }
  }
  if (route.method === 'POST') {
    if (crossOrigin(req)) {
      return reply(res, { status: 403, body: { error: 'forbidden', message: 'a page of another origin may not act on the monitor' } });
    }
    if (readonly) {
      return reply(res, { status: 403, body: { error: 'forbidden', message: 'the monitor is read-only (--monitor-readonly): it kicks no one' } });
    }
  }
  const answer = await route.handle({ query, segments, req });
  if ('stream' in answer) return answer.stream(res);
  reply(res, answer);
}

function reply(res: ServerResponse, { status, body, headers = {} }: { status: number; body: unknown; headers?: Record<string, string> }): void {
  const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(data),
    ...headers,
  });
  res.end(data);
}
