/** How the dashboard writes numbers, sizes, durations and ages. */

export function count(n) {
  return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
}

/** `1 mailbox`, `2 mailboxes`. */
export function plural(n, one, many) {
  return `${count(n)} ${n === 1 ? one : many}`;
}

export function rate(n) {
  if (n === null || n === undefined) return '–';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2);
}

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Milliseconds, with the precision a latency deserves. */
export function ms(n) {
  if (n === null || n === undefined) return '–';
  if (n < 1) return `${n.toFixed(2)} ms`;
  if (n < 100) return `${n.toFixed(1)} ms`;
  if (n < 10_000) return `${Math.round(n)} ms`;
  return `${(n / 1000).toFixed(1)} s`;
}

export function age(msAgo) {
  if (msAgo === null || msAgo === undefined) return '–';
  const s = Math.floor(msAgo / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The outcomes of a request, in the order the broker lists them (lib/broker/metrics.ts). */
export const OUTCOMES = ['answer', 'error_answer', 'gathered', 'no_responders', 'timeout', 'responder_gone', 'cancelled', 'shutting_down', 'sender_gone'];

/** A colour per outcome: answers green and blue, refusals and failures warm, the sender's own end grey. */
export const OUTCOME_COLOURS = {
  answer: '#2e8b57',
  error_answer: '#e0a100',
  gathered: '#3a7bd5',
  no_responders: '#8e44ad',
  timeout: '#d9382f',
  responder_gone: '#a0522d',
  cancelled: '#7f8c8d',
  shutting_down: '#34495e',
  sender_gone: '#bdc3c7',
};
