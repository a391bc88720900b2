/**
 * Names: every name held, with its holder or its pool's members and the deliveries in flight; one name's
 * page adds its requests by outcome and the time to its answers, and its mailbox when it has one.
 */
import { kickName } from './api.js';
import { age, bytes, count, ms, OUTCOME_COLOURS, OUTCOMES } from './format.js';
import { usePoll } from './hooks.js';
import { html } from './html.js';
import { Kick, Problem, nameLink } from './parts.js';

export function Names() {
  const { data, error } = usePoll('/v1/names');
  if (data === undefined) return html`<${Problem} error=${error} />`;
  return html`
    <${Problem} error=${error} />
    <table class="list" data-testid="names">
      <thead><tr><th>name</th><th>kind</th><th class="num">holders</th><th class="num">in flight</th></tr></thead>
      <tbody>
        ${data.names.map(
          (n) => html`<tr data-name=${n.name}>
            <td>${nameLink(n.name)}</td>
            <td>${n.shared ? 'pool' : 'exclusive'}</td>
            <td class="num">${count(n.holders.length)}</td>
            <td class="num">${count(n.inFlight)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${data.names.length === 0 ? html`<p class="muted">no name is held</p>` : null}
  `;
}

export function Name({ name, canAct }) {
  const { data, error, reload } = usePoll(`/v1/names/${encodeURIComponent(name)}`);
  const title = html`<h2><a href="#/names">names</a> / <span data-testid="name-title">${name}</span></h2>`;
  if (data === undefined) return html`${title}<${Problem} error=${error} />`;
  const now = Date.now();
  const { requests, mailbox } = data;
  return html`
    ${title}
    <${Problem} error=${error} />
    <p data-testid="name-summary">
      ${data.held ? (data.shared ? `a pool of ${data.holders.length}` : 'held by one connection') : 'not held now'}, ${count(data.inFlight)} in flight
      ${canAct && data.held ? html` <${Kick} what=${`every holder of ${name}`} label="kick holders" act=${() => kickName(name)} done=${reload} />` : null}
    </p>
    <h3>${data.shared ? 'Members' : 'Holder'}</h3>
    <table class="list" data-testid="holders">
      <thead><tr><th>connection</th><th>dialect</th><th>identity</th><th class="num">in flight</th><th>connected</th><th>address</th></tr></thead>
      <tbody>
        ${data.holders.map(
          (h) => html`<tr data-connection=${h.id}>
            <td class="mono">${h.id}</td><td>${h.dialect}</td><td>${h.identity ?? '–'}</td>
            <td class="num">${count(h.inFlight)}</td><td>${age(now - Date.parse(h.connectedAt))} ago</td><td class="mono">${h.remoteAddress}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    <h3>Requests</h3>
    ${requests === null
      ? html`<p class="muted">no request to this name has ended since the broker started (or it was among the least recently used, beyond the ${count(1000)} names kept)</p>`
      : html`<div class="cards">
            <div class="card"><div class="value" data-stat="name-total">${count(requests.total)}</div><div class="label">ended</div></div>
            <div class="card"><div class="value" data-stat="name-p50">${ms(requests.latency.p50Ms)}</div><div class="label">answer p50</div></div>
            <div class="card"><div class="value" data-stat="name-p99">${ms(requests.latency.p99Ms)}</div><div class="label">answer p99</div></div>
            <div class="card"><div class="value">${ms(requests.latency.meanMs)}</div><div class="label">answer mean</div></div>
          </div>
          <table class="outcomes" data-testid="name-outcomes">
            <thead><tr><th>outcome</th><th class="num">requests</th></tr></thead>
            <tbody>
              ${OUTCOMES.filter((o) => requests.outcomes[o] > 0).map(
                (o) => html`<tr data-outcome=${o}>
                  <td><span class="dot" style=${`background:${OUTCOME_COLOURS[o]}`}></span>${o}</td>
                  <td class="num" data-total=${o}>${count(requests.outcomes[o])}</td>
                </tr>`,
              )}
            </tbody>
          </table>`}
    ${mailbox === null
      ? null
      : html`<h3>Mailbox</h3>
          <p data-testid="name-mailbox">${count(mailbox.depth)} messages, ${bytes(mailbox.bytes)}, the oldest ${mailbox.oldestAgeMs === null ? '–' : `${age(mailbox.oldestAgeMs)} old`}</p>`}
  `;
}
