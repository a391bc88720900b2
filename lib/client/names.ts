/**
 * The register and unregister frames waiting for the broker's reply on the current connection
 * (protocol.md 4.1, 4.2). The broker handles the frames of one connection in order, so replies come in
 * the order of the requests: `registered`/`unregistered` name the frame they answer, and an `error`
 * without `ack` or `ref` answers the oldest one still waiting (its `id`, when present, says which).
 */
import { SwitchboardError } from './errors.js';

export type NameAction = 'register' | 'unregister';

interface Waiting {
  kind: NameAction;
  name: string;
  resolve(): void;
  reject(error: SwitchboardError): void;
}

export class NameReplies {
  readonly #waiting: Waiting[] = [];

  /** Send `kind` for `name` with `send`; resolves on the broker's reply, rejects with its error. */
  request(kind: NameAction, name: string, send: (text: string) => boolean, takeover = false): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!send(JSON.stringify(takeover ? { action: kind, id: name, takeover } : { action: kind, id: name }))) {
        reject(new SwitchboardError('disconnected', `cannot ${kind} "${name}": not connected`));
        return;
      }
      this.#waiting.push({ kind, name, resolve, reject });
    });
  }

  /** A `registered` or `unregistered` for `name`; false when nothing waited for it. */
  confirm(kind: NameAction, name: string): boolean {
    return this.#settle((w) => w.kind === kind && w.name === name);
  }

  /** An error without ack or ref: it answers the oldest waiting frame (for `id`, when given). */
  refuse(error: SwitchboardError, id: string | undefined): boolean {
    return this.#settle((w) => id === undefined || w.name === id, error);
  }

  /** The connection is gone: nothing will be answered. */
  failAll(error: SwitchboardError): void {
    for (const waiting of this.#waiting.splice(0)) waiting.reject(error);
  }

  #settle(match: (w: Waiting) => boolean, error?: SwitchboardError): boolean {
    const index = this.#waiting.findIndex(match);
    if (index === -1) return false;
    const [waiting] = this.#waiting.splice(index, 1);
    if (error === undefined) waiting.resolve();
    else waiting.reject(error);
    return true;
  }
}
