/**
 * Typed services (protocol.md section 14): a contract declared once as TypeBox schemas per method, the
 * serving side (`serve`: validate each request before the handler, each answer before it leaves, announce
 * the contract), the calling side (a stub whose methods return typed promises and validate answers), and
 * the listing of announced services. A method call is a plain request to the service's name with `event`
 * = the method name [SB-14-2], so any client, in any language, can call a service.
 *
 * Answer error codes given here are the responder's own (section 4.4), not the broker's closed set:
 * `bad_request` (the request failed its schema; the handler never ran), `bad_answer` (the handler's answer
 * failed its schema; it was not sent) and `unknown_method`.
 */
import { isName, MAX_SERVICE_METHODS, schemaChecker, type ServiceInfo, type Static, type TSchema } from '../protocol/index.js';
import { SwitchboardError } from './errors.js';
import type { MessageContext } from './responder.js';

/** One method: the schemas of its request and answer, the answer error codes it may give. */
export interface MethodSpec {
  readonly request: TSchema;
  readonly answer: TSchema;
  readonly errors?: readonly string[];
  readonly description?: string;
}

export type MethodSpecs = Record<string, MethodSpec>;

export interface ServiceSpec<M extends MethodSpecs> {
  readonly version: string;
  readonly description?: string;
  readonly methods: M;
}

/** A declared service: its spec, and the validators compiled once, on first use. */
export interface ServiceContract<M extends MethodSpecs = MethodSpecs> extends ServiceSpec<M> {
  /** The compiled validators of `method` (compiled on first use, then kept). */
  validators(method: string): Validators | undefined;
}

interface Validators {
  request(value: unknown): string | undefined;
  answer(value: unknown): string | undefined;
}

/** What a typed stub's method takes besides the request. */
export interface CallOptions {
  timeout?: number;
  signal?: AbortSignal;
}

export type ServiceStub<M extends MethodSpecs> = {
  readonly [K in keyof M]: (request: Static<M[K]['request']>, options?: CallOptions) => Promise<Static<M[K]['answer']>>;
};

export type ServiceImplementation<M extends MethodSpecs> = {
  readonly [K in keyof M]: (request: Static<M[K]['request']>, ctx: MessageContext) => Static<M[K]['answer']> | Promise<Static<M[K]['answer']>>;
};

export interface ServeOptions {
  /** Serve as one member of the name's responder pool (protocol.md 6.4). Default: false. */
  shared?: boolean;
}

const METHOD = /^[A-Za-z0-9_:@/~-]{1,128}$/;

/** Declare a service. Throws `invalid_argument` for a method name with a dot, or more than 64 methods. */
export function defineService<const M extends MethodSpecs>(spec: ServiceSpec<M>): ServiceContract<M> {
  const names = Object.keys(spec.methods);
  const bad = names.find((name) => !METHOD.test(name));
  if (bad !== undefined) throw new SwitchboardError('invalid_argument', `"${bad}" is not a method name: the name grammar without dots`);
  if (names.length > MAX_SERVICE_METHODS) throw new SwitchboardError('invalid_argument', `a service has at most ${MAX_SERVICE_METHODS} methods`);
  const compiled = new Map<string, Validators>();
  return {
    ...spec,
    validators(method) {
      if (!Object.hasOwn(spec.methods, method)) return undefined;
      let validators = compiled.get(method);
      if (validators === undefined) {
        const { request, answer } = spec.methods[method];
        validators = { request: schemaChecker(request), answer: schemaChecker(answer) };
        compiled.set(method, validators);
      }
      return validators;
    },
  };
}

/** The contract as it travels in `announce`: plain JSON Schemas (metadata keys do not serialise). */
export function announceFrame(contract: ServiceContract, name: string): Record<string, unknown> {
  const methods: Record<string, unknown> = Object.create(null);
  for (const [method, spec] of Object.entries(contract.methods)) {
    methods[method] = JSON.parse(
      JSON.stringify({ request: spec.request, answer: spec.answer, errors: spec.errors, description: spec.description }),
    );
  }
  const frame = { action: 'announce', id: name, version: contract.version, description: contract.description, methods };
  return JSON.parse(JSON.stringify(frame)) as Record<string, unknown>;
}

/** What `serve`, `service` and `services` need of the client. */
export interface ServiceHost {
  register(name: string, options: { shared?: boolean }): Promise<void>;
  handle(handler: (message: unknown, ctx: MessageContext) => unknown, options: { event?: string }): () => void;
  request(dest: string, message: unknown, options: CallOptions & { event: string }): Promise<{ message: unknown }>;
  /** Send a control frame and resolve with the broker's reply (announce -> announced, services -> services). */
  control<T>(action: 'announce' | 'services', key: string, frame: Record<string, unknown>): Promise<T>;
  onRegistered(listener: (name: string) => void): () => void;
  report(error: SwitchboardError): void;
}

/**
 * Serve `contract` as `name`: one handler per method (by event name), then register the name and
 * announce the contract; the contract is announced again each time the name is registered again (after a
 * reconnect). Resolves once announced, with a function that stops serving (handlers removed; the name is
 * kept, for the caller to unregister).
 */
export async function serve<M extends MethodSpecs>(
  host: ServiceHost,
  contract: ServiceContract<M>,
  name: string,
  implementation: ServiceImplementation<M>,
  options: ServeOptions = {},
): Promise<() => void> {
  if (!isName(name)) throw new SwitchboardError('invalid_argument', `"${name}" is not a valid name`);
  const removers: Array<() => void> = [];
  for (const method of Object.keys(contract.methods)) {
    const run = implementation[method] as (request: unknown, ctx: MessageContext) => unknown;
    if (typeof run !== 'function') throw new SwitchboardError('invalid_argument', `no implementation of method "${method}"`);
    removers.push(host.handle((message, ctx) => answerCall(host, contract, name, method, run, message, ctx), { event: method }));
  }
  let announced: Promise<void> = Promise.resolve();
  const announce = () => {
    announced = host.control<void>('announce', name, announceFrame(contract as unknown as ServiceContract, name));
    announced.catch((error: SwitchboardError) => host.report(error));
  };
  const off = host.onRegistered((registered) => {
    if (registered === name) announce();
  });
  removers.push(off);
  try {
    await host.register(name, { shared: options.shared === true });
    await announced;
  } catch (error) {
    for (const remove of removers) remove();
    throw error;
  }
  return () => {
    for (const remove of removers.splice(0)) remove();
  };
}

/** Validate the request, run the method, validate its answer ([SB-14-3]). */
async function answerCall(
  host: ServiceHost,
  contract: ServiceContract,
  name: string,
  method: string,
  run: (request: unknown, ctx: MessageContext) => unknown,
  message: unknown,
  ctx: MessageContext,
): Promise<unknown> {
  const validators = contract.validators(method) as Validators;
  const badRequest = validators.request(message);
  if (badRequest !== undefined) throw coded('bad_request', `${name}.${method}: the request does not match its schema: ${badRequest}`);
  const answer = await run(message, ctx);
  const badAnswer = validators.answer(answer);
  if (badAnswer !== undefined) {
    const error = new SwitchboardError('bad_answer', `${name}.${method}: the handler's answer does not match its schema: ${badAnswer}`);
    host.report(error);
    throw coded('bad_answer', `${name}.${method}: the service's answer did not match its schema and was not sent`);
  }
  return answer;
}

function coded(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** A stub for the service `name`: each method sends a request with its event and validates the answer. */
export function stub<M extends MethodSpecs>(host: ServiceHost, contract: ServiceContract<M>, name: string): ServiceStub<M> {
  const methods: Record<string, unknown> = Object.create(null);
  for (const method of Object.keys(contract.methods)) {
    methods[method] = async (request: unknown, options: CallOptions = {}) => {
      const { message } = await host.request(name, request, { ...options, event: method });
      const bad = (contract.validators(method) as Validators).answer(message);
      if (bad !== undefined) throw new SwitchboardError('bad_answer', `${name}.${method} answered what its schema refuses: ${bad}`, { from: name });
      return message;
    };
  }
  return Object.freeze(methods) as ServiceStub<M>;
}

/** The services the broker lists for this identity (section 14), or only `name`. */
export async function services(host: ServiceHost, name?: string): Promise<ServiceInfo[]> {
  const frame = name === undefined ? { action: 'services' } : { action: 'services', id: name };
  const reply = await host.control<{ services: ServiceInfo[] }>('services', name ?? '', frame);
  return reply.services;
}
