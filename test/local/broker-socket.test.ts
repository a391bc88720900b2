/**
 * The broker's `socketPath` option (lib/broker/options.ts), which local mode listens with: the broker
 * serves WebSockets on a Unix socket (on Linux also an abstract one), says so in its listen address,
 * and refuses `socketPath` together with `host` or `port`.
 */
import t from 'tap';
import { connect } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Broker } from '../../lib/broker/index.js';
import { Client } from '../../lib/client/node.js';
import type { WebSocketConstructor } from '../../lib/client/index.js';
import { within } from '../fixtures/clients.js';
import { privateDir } from '../fixtures/local-process.js';

/** A client WebSocket that reaches `path` whatever its URL says. */
function over(path: string): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { createConnection: () => connect({ path }) });
    }
  } as unknown as WebSocketConstructor;
}

for (const kind of ['file', 'abstract'] as const) {
  t.test(`the broker serves on a Unix socket (${kind})`, { skip: kind === 'abstract' && process.platform !== 'linux' && 'Linux only' }, async (t) => {
    const path = kind === 'file' ? join(privateDir(t), 'b.sock') : `\0switchboard-test/${process.pid}/${Math.random()}`;
    const broker = new Broker({ socketPath: path });
    t.teardown(() => broker.close());
    const address = await broker.listen();
    t.same(address, { host: 'localhost', port: 0, url: `ws+unix:${path}:/`, socketPath: path }, 'the listen address names the socket');
    const calc = new Client('ws://localhost/', { name: 'calc', WebSocket: over(path) });
    const web = new Client('ws://localhost/', { name: 'web', WebSocket: over(path) });
    t.teardown(() => Promise.all([calc.close(), web.close()]));
    calc.handle((message) => message);
    await within(Promise.all([calc.ready, web.ready]), 5000, 'clients ready');
    t.same(await web.request('calc', 7), { from: 'calc', message: 7 }, 'two clients talk through it');
  });
}

t.test('socketPath excludes host and port, and must be a non-empty string', async (t) => {
  t.throws(() => new Broker({ socketPath: '/tmp/x.sock', port: 1 }), /socketPath excludes host and port/, 'with port');
  t.throws(() => new Broker({ socketPath: '/tmp/x.sock', host: '127.0.0.1' }), /socketPath excludes host and port/, 'with host');
  t.throws(() => new Broker({ socketPath: '' }), /socketPath must be a non-empty string/, 'empty');
});
