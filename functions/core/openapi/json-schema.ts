import { toJsonSchema, type ConversionConfig, type JsonSchema } from '@valibot/to-json-schema';
import type { AnySchema } from '#core/openapi/operations';

/**
 * valibot to JSON Schema 2020-12 (the dialect of OpenAPI 3.1), through @valibot/to-json-schema.
 * This is the one place that handles what the converter cannot express as it is:
 *
 * - Request bodies are converted in 'input' mode: a union member such as
 *   `pipe(number(), integer(), transform(String))` is documented as the integer a client may send,
 *   not as the string the handler goes on with.
 * - `trim` is a transformation the converter refuses. The rules after it (a pattern) are
 *   documented as they are, with a note that surrounding whitespace is ignored.
 * - `ip` (IPv4 or IPv6) has no format of its own: it is documented as either of the two.
 * - Response bodies are strict objects, so that tests parsing real answers fail on a field the
 *   document does not list; the published schema leaves objects open (no
 *   `additionalProperties: false`), so clients built from it tolerate a field added later.
 * - `$schema` is dropped (the document's dialect applies) and so are empty `required` lists.
 *   `$defs` (recursive schemas) are refused: their `#/$defs/...` references would not resolve
 *   once the schema sits inside the document.
 *
 * Anything else the converter cannot express throws, naming the action or schema.
 */

export type Json = JsonSchema;

const TRIM_NOTE = 'Surrounding whitespace is ignored.';

const withNote = (schema: JsonSchema, note: string): JsonSchema => ({
  ...schema,
  description: schema.description === undefined ? note : `${schema.description} ${note}`,
});

const base: ConversionConfig = {
  target: 'draft-2020-12',
  errorMode: 'throw',
  overrideAction: ({ valibotAction, jsonSchema }) => {
    if (valibotAction.type === 'trim') return withNote(jsonSchema, TRIM_NOTE);
    if (valibotAction.type === 'ip') return { ...jsonSchema, anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] };
    return undefined;
  },
};

// Keywords whose value is a map of names to schemas, a list of schemas, or one schema; the rest hold data (enum, const, examples).
const schemaMaps = new Set(['properties', 'patternProperties', 'dependentSchemas']);
const schemaLists = new Set(['anyOf', 'allOf', 'oneOf', 'prefixItems']);
const schemaValues = new Set(['items', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'additionalProperties', 'unevaluatedProperties']);

/** Drops what does not belong inside an OpenAPI document, at every depth. */
const tidy = (schema: JsonSchema, open: boolean): JsonSchema => {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema) as [string, unknown][]) {
    if (key === '$schema') continue;
    if (key === '$defs' || key === 'definitions') throw new Error('otpgate openapi: recursive schemas ($defs) are not supported in the document');
    if (key === 'required' && Array.isArray(value) && value.length === 0) continue;
    if (open && key === 'additionalProperties' && value === false) continue;
    if (schemaMaps.has(key)) out[key] = Object.fromEntries(Object.entries(value as Record<string, JsonSchema>).map(([name, item]) => [name, tidy(item, open)]));
    else if (schemaLists.has(key)) out[key] = (value as JsonSchema[]).map((item) => tidy(item, open));
    else if (schemaValues.has(key) && typeof value === 'object' && value !== null) out[key] = tidy(value as JsonSchema, open);
    else out[key] = value;
  }
  return out as JsonSchema;
};

const convert = (schema: AnySchema, typeMode: 'input' | 'ignore', open: boolean): JsonSchema => {
  let converted: JsonSchema;
  try {
    converted = toJsonSchema(schema, { ...base, typeMode });
  } catch (error) {
    throw new Error(`otpgate openapi: ${error instanceof Error ? error.message : String(error)} (handle it in functions/core/openapi/json-schema.ts)`, { cause: error });
  }
  return tidy(converted, open);
};

/** A request body or parameter: what a client may send. */
export const requestJsonSchema = (schema: AnySchema): JsonSchema => convert(schema, 'input', false);

/** A response body: what the handler answers, with objects left open to additions. */
export const responseJsonSchema = (schema: AnySchema): JsonSchema => convert(schema, 'ignore', true);
