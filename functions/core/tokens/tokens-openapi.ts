import * as v from 'valibot';
import { coreErrorFormat } from '#core/http/route';
import { coreErrorBody, coreTokenFields, errorGroups, uuidString, type StyleDoc } from '#core/openapi/operations';
import { logoutBody, refreshBody } from '#core/tokens/session-routes';

/**
 * The routes every style shares, for the OpenAPI document: token/refresh and logout (core error
 * shape, APP-KEY) and the public discovery documents that verify otpgate's tokens.
 */

export const tokenRefreshResponse = v.strictObject({ user_id: uuidString, ...coreTokenFields });

export const logoutResponse = v.strictObject({
  logged_out: v.literal(true),
  sessions: v.pipe(v.picklist(['current', 'all']), v.description('"all" when the body had all: true.')),
});

const publicJwk = v.strictObject({
  kty: v.literal('EC'),
  crv: v.literal('P-256'),
  x: v.string(),
  y: v.string(),
  kid: v.pipe(v.string(), v.description("The key's JWK thumbprint; tokens name it in their header.")),
  alg: v.literal('ES256'),
  use: v.literal('sig'),
});

export const jwksResponse = v.strictObject({
  keys: v.pipe(v.array(publicJwk), v.minLength(1), v.description('The key signing now first, then the previous one after a rotation.')),
});

export const openidConfigurationResponse = v.strictObject({
  issuer: v.pipe(v.string(), v.url()),
  jwks_uri: v.pipe(v.string(), v.url()),
  id_token_signing_alg_values_supported: v.array(v.string()),
  token_endpoint_auth_methods_supported: v.array(v.string()),
  response_types_supported: v.array(v.string()),
  subject_types_supported: v.array(v.string()),
  claims_supported: v.array(v.string()),
});

export const tokensOpenApi: StyleDoc = {
  tag: {
    name: 'Sessions and token verification',
    description: 'Shared by every style, under /auth/{projectId}/{environment}/: refresh and logout with the APP-KEY, and the public JWKS and discovery documents a backend verifies access tokens with.',
  },
  errorSchemaName: 'CoreError',
  formatError: coreErrorFormat,
  errorBody: coreErrorBody,
  operations: {
    TokenRefresh: {
      summary: 'Exchange a refresh token for new tokens (the refresh token rotates)',
      description: 'Each refresh token works once; presenting a spent one again revokes the whole session (reuse detection).',
      security: ['appKey'],
      requestBody: { schema: refreshBody },
      responses: { 200: { description: 'New tokens for the session; keep only the newest refresh token.', schema: tokenRefreshResponse } },
      errors: [...errorGroups.keyAndBody, 'invalidRefreshToken'],
    },
    Logout: {
      summary: "Revoke the access token's session, or all of its user's sessions",
      security: ['appKey', 'bearerAccessToken'],
      requestBody: { schema: logoutBody, optional: true, description: 'None or {} revokes the current session; {"all": true} every session of the user.' },
      responses: { 200: { description: 'Revoked (logging out twice is fine).', schema: logoutResponse } },
      errors: [...errorGroups.keyAndBody, 'missingAccessToken', 'invalidAccessToken'],
    },
    Jwks: {
      summary: "The project and environment's public signing keys",
      description: 'Cacheable for 5 minutes.',
      security: [],
      responses: { 200: { description: 'A JWK Set.', schema: jwksResponse } },
      errors: ['projectNotFound'],
    },
    OpenidConfiguration: {
      summary: 'OpenID discovery document (issuer and jwks_uri)',
      description: 'Enough for jose\'s createRemoteJWKSet and an API Gateway JWT authorizer. Cacheable for 5 minutes.',
      security: [],
      responses: { 200: { description: 'The discovery document.', schema: openidConfigurationResponse } },
      errors: ['projectNotFound'],
    },
  },
};
