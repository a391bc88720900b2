/** Small pieces the pages share: a problem line, a link to a name, and the two-step kick button. */
import { useState } from 'preact/hooks';
import { html } from './html.js';

export function Problem({ error }) {
  if (error === undefined) return null;
  return html`<p class="problem" role="alert">${error.message}</p>`;
}

export function nameLink(name) {
  return html`<a href=${`#/names/${encodeURIComponent(name)}`}>${name}</a>`;
}

/** "kick", then "confirm" within five seconds: one click never closes a connection. */
export function Kick({ what, act, done, label = 'kick' }) {
  const [state, setState] = useState({ step: 'idle', error: undefined });
  const arm = () => {
    setState({ step: 'armed', error: undefined });
    setTimeout(() => setState((old) => (old.step === 'armed' ? { step: 'idle', error: undefined } : old)), 5000);
  };
  const fire = async () => {
    setState({ step: 'busy', error: undefined });
    try {
      await act();
      setState({ step: 'idle', error: undefined });
      done?.();
    } catch (error) {
      setState({ step: 'idle', error });
    }
  };
  if (state.step === 'armed') {
    return html`<button class="danger" data-action="confirm-kick" title=${`close ${what} with 4010`} onClick=${fire}>confirm</button>`;
  }
  return html`<button data-action="kick" disabled=${state.step === 'busy'} title=${`close ${what} with 4010`} onClick=${arm}>${label}</button>${
    state.error === undefined ? null : html` <span class="problem">${state.error.message}</span>`
  }`;
}
