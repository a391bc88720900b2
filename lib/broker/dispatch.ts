/**
 * The one switch from a decoded frame to its handler. A new action in lib/protocol without a case here
 * fails to compile (the `never` default). `raw` is the message's text as the sender wrote it, when the
 * decode split it off (see codec.ts). A handler that must wait for a hook returns the promise of that
 * work: the connection's next frames wait for it (executor.ts).
 */
import type { ClientFrame } from '../protocol/wire.js';
import type { BrokerContext } from './context.js';
import type { Session } from './session.js';
import { handleAnnounce } from './handlers/announce.js';
import { handleAnswer } from './handlers/answer.js';
import { handleAuth } from './handlers/auth.js';
import { handleBroadcast } from './handlers/broadcast.js';
import { handleCancel } from './handlers/cancel.js';
import { handleHello } from './handlers/hello.js';
import { handlePublish } from './handlers/publish.js';
import { handleSubscribe, handleUnsubscribe } from './handlers/subscribe.js';
import { handleRegister } from './handlers/register.js';
import { handleSend } from './handlers/send.js';
import { handleServices } from './handlers/services.js';
import { handleProgress } from './handlers/progress.js';
import { handlePull } from './handlers/pull.js';
import { handleUnregister } from './handlers/unregister.js';

export function dispatch(ctx: BrokerContext, session: Session, frame: ClientFrame, raw: string | undefined): Promise<void> | void {
  switch (frame.action) {
    case 'hello':
      return handleHello(ctx, session, frame);
    case 'auth':
      return handleAuth(ctx, session, frame);
    case 'register':
      return handleRegister(ctx, session, frame);
    case 'unregister':
      return handleUnregister(ctx, session, frame);
    case 'send':
      return handleSend(ctx, session, frame, raw);
    case 'answer':
      return handleAnswer(ctx, session, frame, raw);
    case 'subscribe':
      return handleSubscribe(ctx, session, frame);
    case 'unsubscribe':
      return handleUnsubscribe(ctx, session, frame);
    case 'publish':
      return handlePublish(ctx, session, frame, raw);
    case 'broadcast':
      return handleBroadcast(ctx, session, frame, raw);
    case 'cancel':
      return handleCancel(ctx, session, frame);
    case 'announce':
      return handleAnnounce(ctx, session, frame);
    case 'services':
      return handleServices(ctx, session, frame);
    case 'progress':
      return handleProgress(ctx, session, frame, raw);
    case 'pull':
      return handlePull(ctx, session, frame);
    default: {
      const unreachable: never = frame;
      throw new Error(`no handler for ${(unreachable as { action: string }).action}`);
    }
  }
}
