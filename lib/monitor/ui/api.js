/**
 * The dashboard's calls to the monitor: its JSON views, kicks, and the snapshot stream, read with fetch
 * (EventSource cannot send an Authorization header). With an auth policy, the token the operator gives
 * is kept in sessionStorage, so it lives as long as the tab, and goes as `Authorization: Bearer`.
 */
const TOKEN_KEY = 'switchboard.monitor.token';
const CALL_TIMEOUT_MS = 10_000;
/** An event larger than this is not one the monitor sends: the stream is dropped rather than grown. */
const MAX_EVENT_CHARS = 4 * 1024 * 1024;

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function setToken(value) {
  if (value === undefined || value === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
}

function headers() {
  const given = token();
  return given === undefined ? {} : { authorization: `Bearer ${given}` };
}

/** A refusal from the monitor: its status and its error code (lib/monitor/README.md, "Endpoints"). */
export class MonitorError extends Error {
  constructor(status, body) {
    super(body?.message ?? `the monitor answered ${status}`);
    this.status = status;
    this.code = body?.error;
  }
}

async function call(path, method) {
  const res = await fetch(path, { method, headers: headers(), cache: 'no-store', signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  const body = await res.json().catch(() => undefined);
  if (!res.ok) throw new MonitorError(res.status, body);
  return body;
}

export const getJson = (path) => call(path, 'GET');
export const kickConnection = (id) => call(`/v1/connections/${encodeURIComponent(id)}/kick`, 'POST');
export const kickName = (name) => call(`/v1/names/${encodeURIComponent(name)}/kick`, 'POST');

/**
 * Read the server-sent events of `path` until the stream ends (returns) or `signal` aborts; each event
 * goes to `onEvent(type, data)`. Rejects with a MonitorError when the monitor refuses the stream.
 */
export async function readStream(path, onEvent, signal) {
  const res = await fetch(path, { headers: headers(), cache: 'no-store', signal });
  if (!res.ok) throw new MonitorError(res.status, await res.json().catch(() => undefined));
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trimStart();
      }
      if (data !== '') onEvent(type, JSON.parse(data));
    }
    if (buffer.length > MAX_EVENT_CHARS) throw new Error('the stream sent an event too large to be a snapshot');
  }
}
