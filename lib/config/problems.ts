/**
 * The problems of a configuration of `switchboard serve` (schema.ts), each a sentence naming the setting
 * as its source spells it, all of them at once (at most eight, as TypeBox reports). The check is the
 * validator generated from the schema (validators.ts); schema-errors.ts says what is wrong.
 */
import { schemaErrors } from '../protocol/wire.js';
import { CONFIG_SCHEMA, checkConfig } from './validators.js';

/**
 * The problems of one source's settings, each a sentence naming the setting as that source spells it:
 * `label(pointer)` turns a JSON pointer (`/limits/maxDepth`) into `SWITCHBOARD_LIMIT_MAX_DEPTH`,
 * `--limit maxDepth`, `switchboard.yaml: limits.maxDepth`. Returns the pointers at fault too, so that
 * the caller can drop those values and still find the problems further on.
 */
export function configProblems(values: unknown, label: (pointer: string) => string): { problems: string[]; faulty: string[] } {
  if (checkConfig(values)) return { problems: [], faulty: [] };
  const problems: string[] = [];
  const faulty: string[] = [];
  const seen = new Set<string>();
  for (const error of schemaErrors(CONFIG_SCHEMA, values)) {
    if (error.keyword === 'boolean') continue; // the "schema is false" twin of an additionalProperties error
    if (error.keyword === 'additionalProperties') {
      for (const key of (error.params as { additionalProperties: string[] }).additionalProperties) {
        const pointer = `${error.instancePath}/${key}`;
        faulty.push(pointer);
        problems.push(`${label(pointer)}: unknown ${error.instancePath === '/limits' ? 'limit' : 'setting'}`);
      }
      continue;
    }
    if (seen.has(error.instancePath)) continue; // one sentence per setting
    seen.add(error.instancePath);
    faulty.push(error.instancePath);
    const message =
      error.keyword === 'enum'
        ? `must be one of ${(error.params as { allowedValues: string[] }).allowedValues.join(', ')}`
        : error.keyword === 'pattern' && error.instancePath === '/path'
          ? 'must start with "/"'
          : error.message;
    problems.push(`${label(error.instancePath)}: ${message}`);
  }
  return { problems, faulty };
}
