/**
 * Why a value fails a schema, without a schema compiler: the errors TypeBox would give (keyword, paths,
 * params and its English message, in its order), for the JSON Schema keywords the protocol's schemas and
 * the configuration's use. The broker checks frames with validators generated ahead of time
 * (validators.ts); this explains the rare frame they refuse, so that the broker never loads TypeBox's
 * compiler (about 2,300 modules, 0.35 s and 15 MiB at start). scripts/gen-schema.ts refuses a schema with
 * any other keyword, and test/protocol/validators.test.ts checks that these errors are TypeBox's.
 */

/** An error as TypeBox's validators report it. */
export interface SchemaError {
  readonly keyword: string;
  readonly schemaPath: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message: string;
}

/** A JSON Schema as plain data. */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

/** The keywords schemaErrors understands; annotations (description, title...) are ignored. */
export const UNDERSTOOD_KEYWORDS: ReadonlySet<string> = new Set([
  'type', 'required', 'additionalProperties', 'patternProperties', 'properties', 'minProperties', 'maxProperties',
  'items', 'minItems', 'maxItems', 'uniqueItems', 'minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum',
  'exclusiveMaximum', 'const', 'enum', 'anyOf',
]);

/** How many errors TypeBox reports at most (its `maxErrors` setting). */
const MAX_ERRORS = 8;

/** The errors of `value` against `schema`, in TypeBox's order, at most eight as it gives; empty when it is valid. */
export function schemaErrors(schema: JsonSchema, value: unknown): SchemaError[] {
  const errors: SchemaError[] = [];
  walk(errors, schema, value, '#', '');
  return errors;
}

type Schema = { readonly [keyword: string]: unknown };

const regExps = new Map<string, RegExp>();

function regExp(pattern: string): RegExp {
  let made = regExps.get(pattern);
  if (made === undefined) regExps.set(pattern, (made = new RegExp(pattern, 'u')));
  return made;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function isType(name: unknown, value: unknown): boolean {
  switch (name) {
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    default:
      return false;
  }
}

/** JSON Pointer escaping of one key. */
function fragment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function add(errors: SchemaError[], keyword: string, schemaPath: string, instancePath: string, params: Record<string, unknown>): false {
  if (errors.length < MAX_ERRORS) errors.push({ keyword, schemaPath, instancePath, params, message: messageOf(keyword, params) });
  return false;
}

/** The bounds on a count: keyword -> TypeBox's words for it (more or fewer, and what is counted). */
const COUNT_BOUNDS = new Map([
  ['maxItems', 'more than %s items'],
  ['maxLength', 'more than %s characters'],
  ['maxProperties', 'more than %s properties'],
  ['minItems', 'fewer than %s items'],
  ['minLength', 'fewer than %s characters'],
  ['minProperties', 'fewer than %s properties'],
]);

/** TypeBox's en_US messages for these keywords. */
function messageOf(keyword: string, params: Record<string, unknown>): string {
  const bound = COUNT_BOUNDS.get(keyword);
  if (bound !== undefined) return `must not have ${bound.replace('%s', String(params.limit))}`;
  switch (keyword) {
    case 'additionalProperties':
      return 'must not have additional properties';
    case 'anyOf':
      return 'must match a schema in anyOf';
    case 'boolean':
      return 'schema is false';
    case 'const':
      return 'must be equal to constant';
    case 'enum':
      return 'must be equal to one of the allowed values';
    case 'uniqueItems':
      return 'must not have duplicate items';
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${params.comparison} ${params.limit}`;
    case 'pattern':
      return `must match pattern "${params.pattern}"`;
    case 'required':
      return `must have required properties ${(params.requiredProperties as string[]).join(', ')}`;
    case 'type':
      return typeof params.type === 'string' ? `must be ${params.type}` : `must be either ${(params.type as string[]).join(' or ')}`;
    default:
      return 'an unknown validation error occurred';
  }
}

/** Add the errors of `value` at `instancePath` against `schema` at `schemaPath`; true when it is valid. */
function walk(errors: SchemaError[], schema: JsonSchema, value: unknown, schemaPath: string, instancePath: string): boolean {
  if (schema === true) return true;
  if (schema === false) return add(errors, 'boolean', schemaPath, instancePath, {});
  const s = schema as Schema;
  let valid = true;
  if ('type' in s) {
    const types = s.type;
    if (!(Array.isArray(types) ? types.some((type) => isType(type, value)) : isType(types, value))) valid = add(errors, 'type', schemaPath, instancePath, { type: types });
  }
  if (isObject(value)) valid = walkObject(errors, s, value, schemaPath, instancePath) && valid;
  if (Array.isArray(value)) valid = walkArray(errors, s, value, schemaPath, instancePath) && valid;
  if (typeof value === 'string') valid = walkString(errors, s, value, schemaPath, instancePath) && valid;
  if (typeof value === 'number') valid = walkNumber(errors, s, value, schemaPath, instancePath) && valid;
  if ('const' in s && !equal(value, s.const)) valid = add(errors, 'const', schemaPath, instancePath, { allowedValue: s.const });
  if ('enum' in s && !(s.enum as unknown[]).some((allowed) => equal(value, allowed))) valid = add(errors, 'enum', schemaPath, instancePath, { allowedValues: s.enum });
  if ('anyOf' in s) valid = walkAnyOf(errors, s.anyOf as JsonSchema[], value, schemaPath, instancePath) && valid;
  return valid;
}

function walkObject(errors: SchemaError[], s: Schema, value: Record<string, unknown>, schemaPath: string, instancePath: string): boolean {
  let valid = true;
  const properties = (s.properties ?? {}) as Record<string, JsonSchema>;
  const patternProperties = (s.patternProperties ?? {}) as Record<string, JsonSchema>;
  if ('required' in s) {
    const missing = (s.required as string[]).filter((key) => !Object.hasOwn(value, key));
    if (missing.length > 0) valid = add(errors, 'required', schemaPath, instancePath, { requiredProperties: missing });
  }
  if ('additionalProperties' in s) {
    const extra: string[] = [];
    for (const key of Object.keys(value)) {
      if (Object.hasOwn(properties, key) || Object.keys(patternProperties).some((pattern) => regExp(pattern).test(key))) continue;
      if (!walk(errors, s.additionalProperties as JsonSchema, value[key], `${schemaPath}/additionalProperties`, `${instancePath}/${fragment(key)}`)) extra.push(key);
    }
    if (extra.length > 0) valid = add(errors, 'additionalProperties', schemaPath, instancePath, { additionalProperties: extra });
  }
  for (const [pattern, sub] of Object.entries(patternProperties)) {
    for (const key of Object.keys(value)) {
      if (!regExp(pattern).test(key)) continue;
      valid = walk(errors, sub, value[key], `${schemaPath}/patternProperties/${fragment(pattern)}`, `${instancePath}/${fragment(key)}`) && valid;
    }
  }
  for (const [key, sub] of Object.entries(properties)) {
    if (!Object.hasOwn(value, key) || value[key] === undefined) continue;
    valid = walk(errors, sub, value[key], `${schemaPath}/properties/${fragment(key)}`, `${instancePath}/${fragment(key)}`) && valid;
  }
  const count = Object.keys(value).length;
  if (typeof s.minProperties === 'number' && count < s.minProperties) valid = add(errors, 'minProperties', schemaPath, instancePath, { limit: s.minProperties });
  if (typeof s.maxProperties === 'number' && count > s.maxProperties) valid = add(errors, 'maxProperties', schemaPath, instancePath, { limit: s.maxProperties });
  return valid;
}

function walkArray(errors: SchemaError[], s: Schema, value: unknown[], schemaPath: string, instancePath: string): boolean {
  let valid = true;
  if ('items' in s) {
    value.forEach((item, index) => {
      valid = walk(errors, s.items as JsonSchema, item, `${schemaPath}/items`, `${instancePath}/${index}`) && valid;
    });
  }
  if (typeof s.minItems === 'number' && value.length < s.minItems) valid = add(errors, 'minItems', schemaPath, instancePath, { limit: s.minItems });
  if (typeof s.maxItems === 'number' && value.length > s.maxItems) valid = add(errors, 'maxItems', schemaPath, instancePath, { limit: s.maxItems });
  if (s.uniqueItems === true) {
    const duplicateItems = value.flatMap((item, index) => (value.slice(0, index).some((before) => equal(before, item)) ? [index] : []));
    if (duplicateItems.length > 0) valid = add(errors, 'uniqueItems', schemaPath, instancePath, { duplicateItems });
  }
  return valid;
}

function walkString(errors: SchemaError[], s: Schema, value: string, schemaPath: string, instancePath: string): boolean {
  let valid = true;
  if (typeof s.minLength === 'number' && codePoints(value) < s.minLength) valid = add(errors, 'minLength', schemaPath, instancePath, { limit: s.minLength });
  if (typeof s.maxLength === 'number' && codePoints(value) > s.maxLength) valid = add(errors, 'maxLength', schemaPath, instancePath, { limit: s.maxLength });
  if (typeof s.pattern === 'string' && !regExp(s.pattern).test(value)) valid = add(errors, 'pattern', schemaPath, instancePath, { pattern: s.pattern });
  return valid;
}

function walkNumber(errors: SchemaError[], s: Schema, value: number, schemaPath: string, instancePath: string): boolean {
  let valid = true;
  const bound = (keyword: string, comparison: string, ok: (limit: number) => boolean) => {
    const limit = s[keyword];
    if (typeof limit === 'number' && !ok(limit)) valid = add(errors, keyword, schemaPath, instancePath, { comparison, limit });
  };
  bound('exclusiveMinimum', '>', (limit) => value > limit);
  bound('exclusiveMaximum', '<', (limit) => value < limit);
  bound('minimum', '>=', (limit) => value >= limit);
  bound('maximum', '<=', (limit) => value <= limit);
  return valid;
}

/** anyOf: valid when a branch is; otherwise every branch's errors, then the anyOf error. */
function walkAnyOf(errors: SchemaError[], branches: JsonSchema[], value: unknown, schemaPath: string, instancePath: string): boolean {
  const failed: SchemaError[] = [];
  for (const [index, branch] of branches.entries()) {
    const own: SchemaError[] = [];
    if (walk(own, branch, value, `${schemaPath}/anyOf/${index}`, instancePath)) return true;
    failed.push(...own);
  }
  for (const error of failed) if (errors.length < MAX_ERRORS) errors.push(error);
  return add(errors, 'anyOf', schemaPath, instancePath, {});
}

/** Deep equality of JSON values (const and enum). */
function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && equal((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}
