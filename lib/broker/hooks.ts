/**
 * The policy hooks as the broker calls them (protocol.md section 4.5): whatever a hook returns, throws or
 * rejects, the broker gets a well-formed answer and stays up. A hook that fails counts as a refusal
 * (`unauthorized`, `forbidden`), never as a permission, and its fault is reported once by the caller.
 */
import { allowedByPatterns, OPEN_IDENTITY, type AuthPolicy, type Identity, type Permission } from './auth/policy.js';

/** Why a hook's answer was not used: reported as a fault, answered as a refusal. */
export class HookError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HookError';
  }
}

/** An identity a hook may hand back: an object with a string `id` and an object of permissions. */
export function isIdentity(value: unknown): value is Identity {
  if (typeof value !== 'object' || value === null) return false;
  const { id, permissions } = value as { id?: unknown; permissions?: unknown };
  return typeof id === 'string' && id.length > 0 && typeof permissions === 'object' && permissions !== null;
}

export type Authenticated = { identity: Identity } | { identity: undefined; fault?: HookError };

/**
 * The identity of `token` per `policy`, settled within `deadlineMs`: a hook that answers `null`,
 * `undefined` or anything but an identity refuses the token; one that throws, rejects or does not settle
 * in time refuses it too, with a fault to report.
 */
export function authenticate(
  policy: AuthPolicy | undefined,
  token: string,
  remoteAddress: string,
  deadlineMs: number,
): Authenticated | Promise<Authenticated> {
  if (policy === undefined) return { identity: OPEN_IDENTITY };
  if (policy.authenticate === undefined) return { identity: undefined };
  let answer: unknown;
  try {
    answer = policy.authenticate(token, { remoteAddress });
  } catch (error) {
    return { identity: undefined, fault: new HookError('the authenticate hook threw', { cause: error }) };
  }
  if (!isThenable(answer)) return judge(answer);
  return new Promise<Authenticated>((resolve) => {
    const timer = setTimeout(() => {
      resolve({ identity: undefined, fault: new HookError(`the authenticate hook did not settle within ${deadlineMs} ms`) });
    }, deadlineMs);
    Promise.resolve(answer).then(
      (value) => {
        clearTimeout(timer);
        resolve(judge(value));
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ identity: undefined, fault: new HookError('the authenticate hook rejected', { cause: error }) });
      },
    );
  });
}

function judge(value: unknown): Authenticated {
  if (value === undefined || value === null) return { identity: undefined };
  if (isIdentity(value)) return { identity: value };
  return { identity: undefined, fault: new HookError(`the authenticate hook returned ${describe(value)}, not an identity`) };
}

export type Authorized = { allowed: boolean; fault?: HookError };

/** Whether `identity` may do `permission` on `target`: only `true` allows; a throw denies, with a fault. */
export function authorize(policy: AuthPolicy | undefined, identity: Identity, permission: Permission, target: string): Authorized {
  if (policy === undefined) return { allowed: true };
  const hook = policy.authorize ?? allowedByPatterns;
  try {
    const answer: unknown = hook(identity, permission, target);
    if (typeof answer === 'boolean') return { allowed: answer };
    return { allowed: false, fault: new HookError(`the authorize hook returned ${describe(answer)}, not a boolean`) };
  } catch (error) {
    return { allowed: false, fault: new HookError('the authorize hook threw', { cause: error }) };
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object without a string id and permissions' : `a ${typeof value}`;
}
