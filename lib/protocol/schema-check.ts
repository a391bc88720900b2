/**
 * Checking a value against a schema that is not one of the protocol's frames: the message schemas of a
 * service contract (protocol.md section 14), which lib/client/services.ts compiles once per method. Here,
 * so that the browser-safe client core imports typebox only through the protocol module.
 */
import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';

/** TypeBox's builder, for contracts: the client entry points export it, so a program need not depend on typebox. */
export { Type, type Static, type TSchema };

/** A check compiled once: undefined for a valid value, else up to four problems, `/path message; ...`. */
export function schemaChecker(schema: TSchema): (value: unknown) => string | undefined {
  const validator = Compile(schema);
  return (value) => {
    if (validator.Check(value)) return undefined;
    const errors = [...validator.Errors(value)].slice(0, 4) as Array<{ instancePath?: string; message?: string }>;
    return errors.map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
  };
}
