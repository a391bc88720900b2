/**
 * The overview: what the broker holds now (from the latest snapshot of /v1/stream), requests per second
 * by outcome and the latency of answers over the last minutes, and every outcome since the start.
 */
import { Chart } from './chart.js';
import { bytes, count, ms, OUTCOME_COLOURS, OUTCOMES, plural, rate } from './format.js';
import { html } from './html.js';

function Card({ label, value, stat, detail }) {
  return html`<div class="card">
    <div class="value" data-stat=${stat}>${value}</div>
    <div class="label">${label}</div>
    ${detail === undefined ? null : html`<div class="detail">${detail}</div>`}
  </div>`;
}

export function Overview({ snapshots }) {
  const { latest, points, live, error } = snapshots;
  if (latest === undefined) {
    return html`<p class="muted">${error === undefined ? 'waiting for the first snapshot…' : `no stream: ${error.message}`}</p>`;
  }
  const { stats, totals } = latest;
  // An outcome gets a line once it has happened since the start: nine flat lines at zero say nothing.
  const shown = OUTCOMES.filter((o) => o === 'answer' || totals[o] > 0);
  const rates = shown.map((o) => ({ label: o, colour: OUTCOME_COLOURS[o], value: (p) => p.rates[o] ?? 0 }));
  const latency = [
    { label: 'p50', colour: '#3a7bd5', value: (p) => p.p50Ms },
    { label: 'p99', colour: '#d9382f', value: (p) => p.p99Ms },
  ];
  const last = points.length === 0 ? undefined : points[points.length - 1];
  return html`
    <div class="cards">
      <${Card} label="connections" stat="connections" value=${count(stats.connections)} />
      <${Card} label="names" stat="names" value=${count(stats.names)} />
      <${Card} label="subscriptions" stat="subscriptions" value=${count(stats.subscriptions)} />
      <${Card} label="pending requests" stat="pending" value=${count(stats.pending)} detail=${`${plural(stats.deliveries, 'delivery', 'deliveries')} in flight`} />
      <${Card}
        label="mailbox depth"
        stat="queued"
        value=${count(stats.queued)}
        detail=${`${plural(stats.mailboxes, 'mailbox', 'mailboxes')}, ${bytes(stats.queuedBytes)}`}
      />
      <${Card} label="requests/s" stat="rate" value=${last === undefined ? '–' : rate(sum(last.rates))} />
      <${Card} label="answer p50" stat="p50" value=${ms(last?.p50Ms)} />
      <${Card} label="answer p99" stat="p99" value=${ms(last?.p99Ms)} />
    </div>
    <p class="muted stream-state" data-live=${String(live)}>${live ? 'live' : 'reconnecting…'}: one snapshot a second, charts over the last ${Math.round(points.length / 60) || 1} min</p>
    <div class="charts">
      <${Chart} title="Requests per second, by outcome" testid="rates-chart" series=${rates} points=${points} unit="req/s" />
      <${Chart} title="Time to an answer (p50, p99)" testid="latency-chart" series=${latency} points=${points} unit="ms" />
    </div>
    <h2>Requests since the start</h2>
    <table class="outcomes" data-testid="totals">
      <thead><tr><th>outcome</th><th class="num">total</th><th class="num">now /s</th></tr></thead>
      <tbody>
        ${OUTCOMES.map(
          (o) => html`<tr data-outcome=${o}>
            <td><span class="dot" style=${`background:${OUTCOME_COLOURS[o]}`}></span>${o}</td>
            <td class="num" data-total=${o}>${count(totals[o])}</td>
            <td class="num">${last === undefined ? '–' : rate(last.rates[o] ?? 0)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  `;
}

function sum(rates) {
  let total = 0;
  for (const value of Object.values(rates)) total += value;
  return total;
}
