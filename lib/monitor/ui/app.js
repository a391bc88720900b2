/**
 * The dashboard (lib/monitor/README.md, "The dashboard"): it asks the monitor what this operator may do
 * (/v1/access), for a token first when the broker has an auth policy, then shows the page the address
 * names, over the live snapshots of /v1/stream. The act controls (kicks, the request console) show only
 * when the monitor would accept them: not read-only, and the `monitor` permission `write`.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { getJson, setToken, token } from './api.js';
import { Connections } from './connections.js';
import { Console } from './console.js';
import { age } from './format.js';
import { usePoll, useRoute, useSnapshots } from './hooks.js';
import { html, render } from './html.js';
import { Name, Names } from './names.js';
import { Overview } from './overview.js';
import { Problem } from './parts.js';
import { Mailboxes, Topics } from './tables.js';

function Login({ problem, retry }) {
  const [value, setValue] = useState('');
  const submit = (event) => {
    event.preventDefault();
    setToken(value.trim());
    retry();
  };
  const asked = problem.status === 401 && token() === undefined;
  return html`<form class="login" onSubmit=${submit} data-testid="login">
    <h1>switchboard</h1>
    <p>${asked ? 'This broker has an auth policy: give a token whose identity has the monitor permission.' : problem.message}</p>
    <input type="password" autocomplete="off" placeholder="token" required value=${value} onInput=${(e) => setValue(e.target.value)} data-testid="token" />
    <button type="submit" data-action="sign-in">open</button>
    <p class="muted">The token is kept in this tab only (sessionStorage) and sent as Authorization: Bearer.</p>
  </form>`;
}

function App() {
  const [state, setState] = useState({ access: undefined, problem: undefined });
  const check = useCallback(() => {
    getJson('/v1/access').then(
      (access) => setState({ access, problem: undefined }),
      (problem) => setState({ access: undefined, problem }),
    );
  }, []);
  useEffect(check, []);
  const { access, problem } = state;
  if (problem !== undefined) {
    // 401, or 403 for a token given here: ask for a (better) token. A 403 without one is the loopback rule.
    if (problem.status === 401 || (problem.status === 403 && token() !== undefined)) return html`<${Login} problem=${problem} retry=${check} />`;
    return html`<div class="login"><h1>switchboard</h1><${Problem} error=${problem} /></div>`;
  }
  if (access === undefined) return html`<p class="muted">connecting to the monitor…</p>`;
  const signOut = () => {
    setToken(undefined);
    check();
  };
  return html`<${Dashboard} access=${access} onUnauthorized=${check} signOut=${signOut} />`;
}

function Dashboard({ access, onUnauthorized, signOut }) {
  const route = useRoute();
  const snapshots = useSnapshots(onUnauthorized);
  const server = usePoll('/v1/server', 10_000).data?.server;
  const canAct = access.write;
  const clustered = Array.isArray(snapshots.latest?.nodes);
  const pages = [
    ['overview', 'Overview'],
    ['connections', 'Connections'],
    ['names', 'Names'],
    ['topics', 'Topics'],
    ['mailboxes', 'Mailboxes'],
    ...(clustered ? [['nodes', 'Nodes']] : []),
    ...(canAct ? [['console', 'Console']] : []),
  ];
  const [page, ...rest] = route;
  return html`
    <header>
      <h1><a href="#/overview">switchboard</a></h1>
      <nav>
        ${pages.map(([id, label]) => html`<a href=${`#/${id}`} class=${page === id ? 'current' : ''} data-page=${id}>${label}</a>`)}
      </nav>
      <div class="about">
        ${server === undefined ? null : html`<span title=${`Node.js ${server.node}`}>v${server.version} · ${server.url} · up ${age(server.uptimeSeconds * 1000)}</span>`}
        ${access.readonly ? html`<span class="badge" data-testid="readonly">read-only</span>` : null}
        ${access.identity === null ? null : html`<span class="badge">${access.identity}</span>`}
        <span class=${`live ${snapshots.live ? 'on' : 'off'}`} title=${snapshots.live ? 'live' : 'reconnecting'}></span>
        ${token() === undefined ? null : html`<button class="link" onClick=${signOut}>sign out</button>`}
      </div>
    </header>
    <main data-page=${page}>${content(page, rest, { snapshots, canAct, server, clustered })}</main>
  `;
}

function content(page, rest, { snapshots, canAct, server, clustered }) {
  switch (page) {
    case 'overview':
      return html`<${Overview} snapshots=${snapshots} />`;
    case 'connections':
      return html`<${Connections} canAct=${canAct} />`;
    case 'names':
      return rest.length === 0 ? html`<${Names} />` : html`<${Name} key=${rest.join('/')} name=${rest.join('/')} canAct=${canAct} />`;
    case 'topics':
      return html`<${Topics} />`;
    case 'mailboxes':
      return html`<${Mailboxes} />`;
    case 'nodes':
      // Cluster mode does not exist yet: its nodes will be listed here, from the snapshot's `nodes`.
      return clustered ? html`<pre>${JSON.stringify(snapshots.latest.nodes, null, 2)}</pre>` : html`<p class="muted">this broker is not clustered</p>`;
    case 'console':
      if (!canAct) return html`<p class="muted">the request console needs the monitor permission "write", and a monitor that is not read-only</p>`;
      return server === undefined ? html`<p class="muted">loading…</p>` : html`<${Console} server=${server} />`;
    default:
      return html`<p class="muted">no page "${page}": <a href="#/overview">the overview</a></p>`;
  }
}

render(html`<${App} />`, document.getElementById('app'));
