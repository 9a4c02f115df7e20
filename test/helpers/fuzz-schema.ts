/**
 * Valid values of a JSON Schema (the subset the API's OpenAPI document
 * uses: objects, strings with lengths and patterns, numbers, booleans,
 * enums, anyOf and local $refs), so that the body fuzzer has valid seeds to
 * mutate for every route, including routes added after it was written.
 */
import fc, { type Arbitrary } from 'fast-check';

export interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
}

/** Resolves `#/components/schemas/X` (and fastify's `def-N` ids) against an OpenAPI document's components. */
export type RefResolver = (ref: string) => Schema | undefined;

export function openApiRefs(components: Record<string, Schema> | undefined): RefResolver {
  return (ref) => components?.[ref.replace(/^#\/components\/schemas\//, '').replace(/#$/, '')];
}

function stringOf(schema: Schema): Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? Math.max(min, 40);
  if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
  if (schema.pattern) {
    try {
      return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= min && s.length <= max);
    } catch {
      // a pattern fast-check cannot generate from: plain strings of the right length
    }
  }
  return fc.string({ minLength: min, maxLength: max });
}

/** Values valid for `schema`, as far as this subset goes; `{}` for what it does not know. */
export function schemaValue(schema: Schema, resolve: RefResolver, depth = 0): Arbitrary<unknown> {
  if (depth > 6) return fc.constant({});
  if (schema.$ref) {
    const target = resolve(schema.$ref);
    return target ? schemaValue(target, resolve, depth + 1) : fc.constant({});
  }
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives && alternatives.length > 0) return fc.oneof(...alternatives.map((s) => schemaValue(s, resolve, depth + 1)));
  if (schema.allOf && schema.allOf[0]) return schemaValue(schema.allOf[0], resolve, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return stringOf(schema);
    case 'integer':
      return fc.integer({ min: Math.ceil(schema.minimum ?? (schema.exclusiveMinimum ?? -1_000_001) + 1), max: Math.floor(schema.maximum ?? (schema.exclusiveMaximum ?? 1_000_001) - 1) });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(schema.items ? schemaValue(schema.items, resolve, depth + 1) : fc.constant(null), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
    case 'object':
    default: {
      const properties = Object.entries(schema.properties ?? {});
      const model = Object.fromEntries(properties.map(([name, s]) => [name, schemaValue(s, resolve, depth + 1)]));
      return fc.record(model, { requiredKeys: (schema.required ?? []).filter((name) => name in model) });
    }
  }
}
