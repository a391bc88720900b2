/** Topics with their subscribers, and the mailboxes of offline durable names. */
import { age, bytes, count } from './format.js';
import { usePoll } from './hooks.js';
import { html } from './html.js';
import { Problem, nameLink } from './parts.js';

export function Topics() {
  const { data, error } = usePoll('/v1/topics');
  if (data === undefined) return html`<${Problem} error=${error} />`;
  return html`
    <${Problem} error=${error} />
    <table class="list" data-testid="topics">
      <thead><tr><th>topic</th><th class="num">subscribers</th></tr></thead>
      <tbody>
        ${data.topics.map((t) => html`<tr data-topic=${t.topic}><td>${t.topic}</td><td class="num">${count(t.subscribers)}</td></tr>`)}
      </tbody>
    </table>
    ${data.topics.length === 0 ? html`<p class="muted">no subscriptions</p>` : null}
  `;
}

export function Mailboxes() {
  const { data, error } = usePoll('/v1/mailboxes');
  if (data === undefined) return html`<${Problem} error=${error} />`;
  return html`
    <${Problem} error=${error} />
    <table class="list" data-testid="mailboxes">
      <thead><tr><th>name</th><th class="num">depth</th><th class="num">bytes</th><th class="num">oldest</th></tr></thead>
      <tbody>
        ${data.mailboxes.map(
          (m) => html`<tr data-mailbox=${m.name}>
            <td>${nameLink(m.name)}</td>
            <td class="num">${count(m.depth)}</td>
            <td class="num">${bytes(m.bytes)}</td>
            <td class="num">${m.oldestAgeMs === null ? '–' : age(m.oldestAgeMs)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${data.mailboxes.length === 0 ? html`<p class="muted">no mailbox: a durable name's mailbox appears while nobody holds it</p>` : null}
  `;
}
