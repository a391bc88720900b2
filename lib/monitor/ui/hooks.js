/**
 * The dashboard's state: the page the address names (`#/connections`, `#/names/<name>`, ...), JSON views
 * polled while a page shows them, and the live snapshots of /v1/stream with the last minutes of points.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { getJson, readStream } from './api.js';

/** Points kept for the charts: five minutes at one a second (the monitor keeps as many). */
export const MAX_POINTS = 300;
const RETRY_MS = [1000, 2000, 5000, 10_000];

/** The route in the address's fragment, split on `/` and decoded: `#/names/a%2Fb` is ['names', 'a/b']. */
export function useRoute() {
  const read = () => (location.hash.replace(/^#\/?/, '') || 'overview').split('/').map((part) => decodeURIComponent(part));
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

/** A JSON view, fetched now and every `everyMs` while the component shows; `reload()` fetches at once. */
export function usePoll(path, everyMs = 2000) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const latest = useRef(path);
  latest.current = path;
  const reload = useCallback(async () => {
    try {
      const data = await getJson(path);
      if (latest.current === path) setState({ data, error: undefined });
    } catch (error) {
      if (latest.current === path) setState((old) => ({ data: old.data, error }));
    }
  }, [path]);
  useEffect(() => {
    setState({ data: undefined, error: undefined });
    reload();
    const timer = setInterval(reload, everyMs);
    return () => clearInterval(timer);
  }, [reload, everyMs]);
  return { ...state, reload };
}

/**
 * The snapshot stream: the latest snapshot, the points of the last minutes, and whether it is live.
 * Reconnects with a growing pause; a 401 goes to `onUnauthorized` (the token was refused).
 */
export function useSnapshots(onUnauthorized) {
  const [state, setState] = useState({ latest: undefined, points: [], live: false, error: undefined });
  useEffect(() => {
    const abort = new AbortController();
    let failures = 0;
    const onEvent = (type, data) => {
      failures = 0;
      if (type === 'history') setState((old) => ({ ...old, points: data.points.slice(-MAX_POINTS), live: true, error: undefined }));
      if (type === 'snapshot') {
        setState((old) => ({
          latest: data,
          points: data.point === null ? old.points : [...old.points, data.point].slice(-MAX_POINTS),
          live: true,
          error: undefined,
        }));
      }
    };
    (async () => {
      while (!abort.signal.aborted) {
        try {
          await readStream('/v1/stream', onEvent, abort.signal);
          setState((old) => ({ ...old, live: false }));
        } catch (error) {
          if (abort.signal.aborted) return;
          if (error.status === 401) return onUnauthorized();
          setState((old) => ({ ...old, live: false, error }));
        }
        const pause = RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)];
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    })();
    return () => abort.abort();
  }, []);
  return state;
}
