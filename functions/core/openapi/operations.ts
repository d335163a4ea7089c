import * as v from 'valibot';
import type { ApiError, errors } from '#core/errors';
import type { ErrorFormatter } from '#core/http/route';
import { MAX_CODE_LENGTH, MIN_CODE_LENGTH } from '#core/otp/codes';

/**
 * What an API style tells the OpenAPI generator about its routes. Each style keeps one module
 * beside its schemas (styles/<style>-openapi.ts) exporting a StyleDoc, and
 * functions/core/openapi/styles.ts lists it; the generator does the rest. Bodies are the valibot
 * schemas the handlers parse with and response bodies are valibot schemas too, so tests can parse
 * real answers with them and the document cannot drift from what the handlers do.
 */

export type AnySchema = v.GenericSchema;

/** A key of `errors` in functions/core/errors.ts: the generator turns it into a status, an envelope and an example. */
export type ErrorName = keyof typeof errors;

export interface SuccessResponseDoc {
  readonly description: string;
  /** A strict valibot schema of the body: an undocumented field in a real answer fails the tests that parse it. */
  readonly schema: AnySchema;
  /** The component name; `<route id>Response` unless given (give one to share a schema between routes). */
  readonly name?: string;
}

export interface RequestBodyDoc {
  /**
   * The schema the handler parses the body with, composed with valibot (v.union, v.intersect) when
   * the handler parses in steps. Fields the handler checks in code after parsing may be described
   * with checkedInCode.
   */
  readonly schema: AnySchema;
  /** `<route id>Request` unless given. */
  readonly name?: string;
  readonly description?: string;
  /** application/json unless given (e.g. a form-encoded style). */
  readonly contentType?: string;
  /** An empty body is accepted (logout). */
  readonly optional?: boolean;
}

export interface ParameterDoc {
  readonly description: string;
  readonly schema: AnySchema;
  /** Used in the document's error examples' paths too. */
  readonly example?: string;
}

export interface OperationDoc {
  readonly summary: string;
  readonly description?: string;
  /** Names of security schemes that must all be presented; empty for a public route. */
  readonly security: readonly string[];
  /** Path parameters this operation names differently from the shared ones (projectId, environment). */
  readonly pathParameters?: Readonly<Record<string, ParameterDoc>>;
  readonly requestBody?: RequestBodyDoc;
  /** Success answers by HTTP status. */
  readonly responses: Readonly<Record<number, SuccessResponseDoc>>;
  /**
   * The errors this route can answer besides `timeout` and `internal`, which every route's chain
   * can answer and the generator adds. Statuses come from the errors themselves, passed through
   * the style's formatter (a style may answer a code with another status). An entry is a key of
   * `errors` (answered as its sample in error-catalogue.ts) or an ApiError of the style's own: an
   * error only that style has, or a core error whose cause its formatter answers differently.
   */
  readonly errors: readonly (ErrorName | ApiError)[];
}

/** What one error response narrows the style's envelope to; absent for the envelope itself (a component of the document). */
export interface ErrorBodyShape {
  /** The codes answered with this status on this route, at least one. */
  readonly codes?: readonly [string, ...string[]];
  readonly status?: number;
}

export interface StyleDoc {
  /** The tag grouping the style's operations. */
  readonly tag: { readonly name: string; readonly description: string };
  /** Security schemes of this style beyond the shared ones (appKey, apiKey, bearerAccessToken). */
  readonly securitySchemes?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The component name of the envelope (styles with the same envelope share it, e.g. CoreError). */
  readonly errorSchemaName: string;
  /** The very formatter the style's routes answer errors with. */
  readonly formatError: ErrorFormatter;
  /**
   * The style's error envelope as a strict valibot schema, narrowed to a response's codes and
   * status when given them; every example the formatter produces must pass it.
   */
  readonly errorBody: (shape?: ErrorBodyShape) => AnySchema;
  /** Replaces values of an example that change on every call (a timestamp), so the document is stable. */
  readonly stableExample?: (body: Record<string, unknown>) => Record<string, unknown>;
  /** Operations by route id (lib/routes.ts). */
  readonly operations: Readonly<Record<string, OperationDoc>>;
}

/**
 * Handlers check a few fields in code after the schema has parsed the body (a code's length is a
 * project setting; idType has one allowed value). Their schemas say `unknown` or `string`; this
 * describes them as the handler checks them, and fails loudly when a named field does not exist.
 */
export const checkedInCode = <E extends v.ObjectEntries>(schema: v.ObjectSchema<E, v.ErrorMessage<v.ObjectIssue> | undefined>, fields: Partial<Record<keyof E & string, AnySchema>>) => {
  for (const name of Object.keys(fields)) {
    if (!Object.hasOwn(schema.entries, name)) throw new Error(`otpgate openapi: checkedInCode names "${name}", which the schema does not have`);
  }
  return v.object({ ...schema.entries, ...fields } as v.ObjectEntries);
};

/** A submitted code as normaliseSubmittedCode (otp/codes.ts) reads it. */
export const submittedCodeField = (name: string) =>
  v.pipe(
    v.union([v.pipe(v.string(), v.regex(new RegExp(`^\\s*[0-9]{${MIN_CODE_LENGTH},${MAX_CODE_LENGTH}}\\s*$`))), v.pipe(v.number(), v.integer(), v.minValue(0))]),
    v.description(
      `The code as sent: a string of exactly the project's codeLength digits (${MIN_CODE_LENGTH}-${MAX_CODE_LENGTH}, 6 unless changed), or an integer, which is left-padded with zeros to that length. Anything else is 400 invalid_request on ${name}.`,
    ),
  );

/** A `code` field: one of the codes when given them, else any code. */
export const errorCode = (codes: ErrorBodyShape['codes']) =>
  codes === undefined ? v.pipe(v.string(), v.description('A stable, machine-readable error code (functions/core/errors.ts).')) : v.picklist(codes);

/** The core error shape (`ApiError.toBody`), answered by every route that has no envelope of its own. */
export const coreErrorBody = ({ codes }: ErrorBodyShape = {}) =>
  v.strictObject({
    error: v.strictObject({
      code: errorCode(codes),
      message: v.string(),
      field: v.optional(v.string()),
      attempts_remaining: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      retry_after: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
    }),
  });

export const uuidString = v.pipe(v.string(), v.uuid());
export const integerSeconds = v.pipe(v.number(), v.integer(), v.minValue(1));

/** The token fields every token-issuing answer of the core shape carries (sessionTokenFields in tokens/session-routes.ts). */
export const coreTokenFields = {
  access_token: v.pipe(v.string(), v.description('The ES256 access token (JWT).')),
  token_type: v.literal('bearer'),
  expires_in: v.pipe(integerSeconds, v.description("The access token's lifetime in seconds (the project's tokenTtlSeconds).")),
  refresh_token: v.pipe(v.string(), v.startsWith('ogr_'), v.description('Opaque; exchanged once at token/refresh for new tokens.')),
  refresh_expires_in: v.pipe(integerSeconds, v.description("The refresh token's lifetime in seconds (the project's refreshTokenTtlSeconds, less where the session's sessionMaxLifetimeSeconds ends sooner).")),
};

/** Groups of errors several routes share. */
export const errorGroups = {
  /** A tenant route's key check and body parsing. */
  keyAndBody: ['missingAppKey', 'invalidAppKey', 'invalidRequest'],
  /** Reading a phone number (otp/identity.ts normalisePhone). */
  phone: ['invalidMobile', 'countryNotAllowed'],
  /** Sending a code (otp/engine.ts): cooldown, windows, spend caps, the provider. */
  send: ['resendTooSoon', 'tooManyRequests', 'budgetExceeded', 'deliveryFailed'],
  /** Checking a code (otp/engine.ts verify). */
  verify: ['noPendingOtp', 'otpExpired', 'tooManyAttempts', 'tooManyFailures', 'invalidOtp'],
} as const satisfies Record<string, readonly ErrorName[]>;
