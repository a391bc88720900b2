/**
 * Connections: every open connection with its dialect, identity, names, traffic and buffered bytes,
 * sortable by any column and filtered by any text it shows; a kick closes one with 4010.
 */
import { useState } from 'preact/hooks';
import { kickConnection } from './api.js';
import { age, bytes, count } from './format.js';
import { usePoll } from './hooks.js';
import { html } from './html.js';
import { Kick, Problem, nameLink } from './parts.js';

/** [key, heading, value to sort by, numeric] */
const COLUMNS = [
  ['id', 'id', (c) => c.id, false],
  ['dialect', 'dialect', (c) => c.dialect, false],
  ['identity', 'identity', (c) => c.identity ?? '', false],
  ['names', 'names', (c) => c.names.join(' '), false],
  ['subscriptions', 'subs', (c) => c.subscriptions, true],
  ['pending', 'pending', (c) => c.pending, true],
  ['inFlight', 'in flight', (c) => c.inFlight, true],
  ['in', 'frames in', (c) => c.traffic.framesIn, true],
  ['out', 'frames out', (c) => c.traffic.framesOut, true],
  ['bytesIn', 'bytes in', (c) => c.traffic.bytesIn, true],
  ['bytesOut', 'bytes out', (c) => c.traffic.bytesOut, true],
  ['buffered', 'buffered', (c) => c.bufferedBytes, true],
  ['connected', 'connected', (c) => c.connectedAt, false],
  ['remote', 'address', (c) => c.remoteAddress, false],
];

export function Connections({ canAct }) {
  const { data, error, reload } = usePoll('/v1/connections?limit=10000');
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState({ key: 'connected', desc: false });
  if (data === undefined) return html`<${Problem} error=${error} />`;
  const now = Date.now();
  const words = filter.trim().toLowerCase().split(/\s+/).filter((w) => w !== '');
  const text = (c) => [c.id, c.dialect, c.identity ?? '', c.remoteAddress, ...c.names].join(' ').toLowerCase();
  const shown = data.connections.filter((c) => words.every((w) => text(c).includes(w)));
  const [, , by, numeric] = COLUMNS.find(([key]) => key === sort.key);
  shown.sort((a, b) => {
    const [x, y] = [by(a), by(b)];
    const order = numeric ? x - y : String(x).localeCompare(String(y));
    return sort.desc ? -order : order;
  });
  const heading = ([key, label, , numeric]) => html`<th
    class=${`${numeric ? 'num ' : ''}sortable${sort.key === key ? ' sorted' : ''}`}
    data-sort=${key}
    onClick=${() => setSort({ key, desc: sort.key === key ? !sort.desc : numeric })}
  >${label}${sort.key === key ? (sort.desc ? ' ▾' : ' ▴') : ''}</th>`;
  return html`
    <div class="toolbar">
      <input type="search" placeholder="filter: id, identity, name, address…" value=${filter} onInput=${(e) => setFilter(e.target.value)} data-testid="filter" />
      <span class="muted" data-testid="shown">${shown.length} of ${data.total} connections</span>
    </div>
    <${Problem} error=${error} />
    <table class="list" data-testid="connections">
      <thead><tr>${COLUMNS.map(heading)}${canAct ? html`<th></th>` : null}</tr></thead>
      <tbody>
        ${shown.map(
          (c) => html`<tr data-connection=${c.id}>
            <td class="mono">${c.id}</td>
            <td>${c.dialect}</td>
            <td>${c.identity ?? '–'}</td>
            <td>${c.names.map((n, i) => html`${i > 0 ? ', ' : ''}${nameLink(n)}`)}</td>
            <td class="num">${count(c.subscriptions)}</td>
            <td class="num">${count(c.pending)}</td>
            <td class="num">${count(c.inFlight)}</td>
            <td class="num">${count(c.traffic.framesIn)}</td>
            <td class="num">${count(c.traffic.framesOut)}</td>
            <td class="num">${bytes(c.traffic.bytesIn)}</td>
            <td class="num">${bytes(c.traffic.bytesOut)}</td>
            <td class="num">${bytes(c.bufferedBytes)}</td>
            <td title=${c.connectedAt}>${age(now - Date.parse(c.connectedAt))} ago</td>
            <td class="mono">${c.remoteAddress}</td>
            ${canAct ? html`<td><${Kick} what=${`connection ${c.id}`} act=${() => kickConnection(c.id)} done=${reload} /></td>` : null}
          </tr>`,
        )}
      </tbody>
    </table>
  `;
}
