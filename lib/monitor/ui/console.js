/**
 * The request console: send a request to a name through the browser client (lib/client, served by the
 * monitor from dist/client as plain ES modules) and see its outcome and how long it took. The client
 * connects to the broker's own WebSocket URL with the operator's token, when there is one; what it may
 * send is the broker's auth policy's to decide, not the monitor's.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { token } from './api.js';
import { ms } from './format.js';
import { html } from './html.js';
import { Problem } from './parts.js';

/** Results kept on the page, newest first. */
const MAX_RESULTS = 20;

/** The broker's URL as the browser can reach it: an address listened on by all interfaces becomes this page's host. */
function reachable(url) {
  const parsed = new URL(url);
  if (['0.0.0.0', '[::]', '::'].includes(parsed.hostname)) parsed.hostname = location.hostname;
  return parsed.href;
}

export function Console({ server }) {
  const [url, setUrl] = useState(server.url.startsWith('ws') ? reachable(server.url) : '');
  const [dest, setDest] = useState('');
  const [message, setMessage] = useState('{}');
  const [timeout, setTimeoutMs] = useState('5000');
  const [results, setResults] = useState([]);
  const [status, setStatus] = useState('not connected');
  const [problem, setProblem] = useState(undefined);
  /** The console's client, made at the first send: { url, client: Promise<Client> }. */
  const held = useRef(undefined);

  useEffect(() => () => held.current?.client.then((c) => c.close()).catch(() => {}), []);

  const connect = async () => {
    if (held.current !== undefined) {
      const existing = await held.current.client.catch(() => undefined);
      if (existing !== undefined && existing.status !== 'closed' && held.current.url === url) return existing;
      existing?.close().catch(() => {});
    }
    const client = (async () => {
      const { Client } = await import('/ui/lib/client/browser.js');
      const given = token();
      const made = new Client(url, { reconnect: false, ...(given === undefined ? {} : { token: given }) });
      made.on('status', (s) => setStatus(s));
      made.on('error', () => {}); // a failed request is shown where it was made
      setStatus(made.status);
      await made.ready;
      return made;
    })();
    held.current = { url, client };
    try {
      return await client;
    } catch (error) {
      held.current = undefined;
      throw error;
    }
  };

  const send = async (event) => {
    event.preventDefault();
    setProblem(undefined);
    let body;
    try {
      body = JSON.parse(message);
    } catch {
      return setProblem(new Error('the message is not JSON (a string needs its quotes: "hello")'));
    }
    const deadline = Number(timeout);
    if (!Number.isInteger(deadline) || deadline < 1) return setProblem(new Error('the timeout is a whole number of milliseconds'));
    let connected;
    try {
      connected = await connect();
    } catch (error) {
      setStatus('not connected');
      return setProblem(new Error(`cannot connect to ${url}: ${error.code ?? ''} ${error.message}`));
    }
    const started = performance.now();
    const result = await connected.request(dest, body, { timeout: deadline }).then(
      (answer) => ({ ok: true, from: answer.from, body: answer.message }),
      (error) => ({ ok: false, code: error.code, message: error.message, remote: error.remoteCode === undefined ? undefined : `${error.remoteCode}: ${error.remoteMessage}` }),
    );
    const entry = { ...result, dest, ms: performance.now() - started, at: new Date().toLocaleTimeString(), id: `${Date.now()}-${Math.random()}` };
    setResults((old) => [entry, ...old].slice(0, MAX_RESULTS));
  };

  return html`
    <form class="console" onSubmit=${send} data-testid="console">
      <label>broker <input value=${url} onInput=${(e) => setUrl(e.target.value)} data-testid="console-url" size="40" /></label>
      <span class="muted" data-testid="console-status">${status}</span>
      <label>to <input value=${dest} onInput=${(e) => setDest(e.target.value)} placeholder="a name" required data-testid="console-dest" /></label>
      <label>timeout (ms) <input value=${timeout} onInput=${(e) => setTimeoutMs(e.target.value)} size="7" data-testid="console-timeout" /></label>
      <label class="wide">message (JSON)
        <textarea rows="4" value=${message} onInput=${(e) => setMessage(e.target.value)} data-testid="console-message"></textarea>
      </label>
      <button type="submit" data-action="send">send request</button>
    </form>
    <${Problem} error=${problem} />
    <ol class="results" data-testid="console-results">
      ${results.map(
        (r) => html`<li key=${r.id} class=${r.ok ? 'ok' : 'failed'} data-outcome=${r.ok ? 'answer' : r.code}>
          <div>
            <strong>${r.ok ? `answer from ${r.from}` : r.code}</strong> to ${r.dest} in <span data-testid="console-time">${ms(r.ms)}</span>${' '}
            <span class="muted">at ${r.at}</span>
          </div>
          ${r.ok ? html`<pre data-testid="console-body">${JSON.stringify(r.body, null, 2)}</pre>` : html`<div>${r.remote ?? r.message}</div>`}
        </li>`,
      )}
    </ol>
  `;
}
