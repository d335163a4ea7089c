import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { errors } from '#core/errors';
import { log } from '#core/log';
import type { Tenant } from '#core/otp/engine';
import type { TenantRef } from '#core/store/repository';
import type { RefreshTokenRecord, SessionStore } from '#core/store/sessions';
import { MAX_REFRESH_TOKEN_TTL_SECONDS } from '#core/tenancy/settings';

/**
 * Sessions and their refresh tokens. A sign-in starts a session (a refresh token family); each
 * refresh exchanges the token for a successor (rotation). A token that is presented again after it
 * was exchanged means two parties hold it, and nobody can tell which is the thief, so the whole
 * session is revoked (RFC 9700 section 4.14.2): that includes two clients racing with one token,
 * of which exactly one gets new tokens and the session then dies with the other's attempt.
 *
 * Tokens are 256 random bits, shown once and stored only as their SHA-256: with that much entropy
 * a fast hash is enough (there is nothing to brute-force), and no secret pepper is needed.
 */

export interface SessionGrant {
  /** The access token claims of the style that signed the user in, e.g. { phone_number }. */
  readonly claims: Readonly<Record<string, string>>;
  readonly accessTtlSeconds: number;
}

export interface Session extends SessionGrant {
  readonly userId: string;
  /** The session id: the `sid` claim of its access tokens, what logout revokes. */
  readonly sessionId: string;
  readonly refreshToken: string;
  readonly refreshExpiresIn: number;
}

export interface SessionDeps {
  readonly store: SessionStore;
  readonly now?: () => number;
  readonly randomBytes?: (size: number) => Buffer;
}

const TOKEN_PREFIX = 'ogr_';
const TOKEN_SHAPE = /^ogr_[A-Za-z0-9_-]{43}$/;

export const hashRefreshToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

const where = (tenant: TenantRef, record: RefreshTokenRecord) => ({
  projectId: tenant.projectId,
  environment: tenant.environment,
  userId: record.userId,
  sessionId: record.familyId,
});

export const createSessions = (deps: SessionDeps) => {
  const now = deps.now ?? Date.now;
  const random = deps.randomBytes ?? randomBytes;
  // A revocation must outlive every token the session may still hold, whatever the project's setting was when it was issued.
  const keepRevocationUntil = (at: number) => at + MAX_REFRESH_TOKEN_TTL_SECONDS * 1000;

  /** The session's absolute end: fixed at sign-in; for sessions started before it was recorded, counted from their start. */
  const familyEnd = (tenant: Tenant, record: Pick<RefreshTokenRecord, 'familyCreatedAt' | 'familyExpiresAt'>) =>
    record.familyExpiresAt ?? record.familyCreatedAt + tenant.settings.sessionMaxLifetimeSeconds * 1000;

  /** No refresh token outlives its session (ASVS 5 7.3.2): the last one of a session is shorter. */
  const expiryOf = (tenant: Tenant, base: Pick<RefreshTokenRecord, 'familyCreatedAt' | 'familyExpiresAt'>, at: number) =>
    Math.min(at + tenant.settings.refreshTokenTtlSeconds * 1000, familyEnd(tenant, base));

  const sessionOf = (base: Omit<RefreshTokenRecord, 'createdAt' | 'expiresAt' | 'rotatedAt'>, refreshToken: string, expiresAt: number, at: number): Session => {
    return {
      userId: base.userId,
      sessionId: base.familyId,
      refreshToken,
      refreshExpiresIn: Math.floor((expiresAt - at) / 1000),
      claims: base.claims,
      accessTtlSeconds: base.accessTtlSeconds,
    };
  };

  const issue = async (tenant: Tenant, base: Omit<RefreshTokenRecord, 'createdAt' | 'expiresAt' | 'rotatedAt'>, at: number): Promise<Session> => {
    const refreshToken = `${TOKEN_PREFIX}${random(32).toString('base64url')}`;
    const expiresAt = expiryOf(tenant, base, at);
    await deps.store.putRefreshToken(tenant, hashRefreshToken(refreshToken), { ...base, createdAt: at, expiresAt });
    return sessionOf(base, refreshToken, expiresAt, at);
  };

  const revokeForReuse = async (tenant: Tenant, record: RefreshTokenRecord, at: number) => {
    await deps.store.revokeFamily(tenant, record.userId, record.familyId, 'reuse', at, keepRevocationUntil(at));
    log.warn('refresh token reused; session revoked', where(tenant, record));
  };

  return {
    /** Starts a session for a user who just verified a code: one write. */
    async start(tenant: Tenant, userId: string, grant: SessionGrant): Promise<Session> {
      const at = now();
      const familyExpiresAt = at + tenant.settings.sessionMaxLifetimeSeconds * 1000;
      return issue(tenant, { userId, familyId: randomUUID(), familyCreatedAt: at, familyExpiresAt, claims: grant.claims, accessTtlSeconds: grant.accessTtlSeconds }, at);
    },

    /**
     * A session that starts in someone else's write: the refresh token's item, for the transaction
     * that uses up the code, so a code is never used without its session existing (and the other
     * way round), whatever fails in between.
     */
    prepare(tenant: Tenant, userId: string, grant: SessionGrant): { readonly session: Session; readonly write: ReturnType<SessionStore['refreshTokenWrite']> } {
      const at = now();
      const familyExpiresAt = at + tenant.settings.sessionMaxLifetimeSeconds * 1000;
      const base = { userId, familyId: randomUUID(), familyCreatedAt: at, familyExpiresAt, claims: grant.claims, accessTtlSeconds: grant.accessTtlSeconds };
      const refreshToken = `${TOKEN_PREFIX}${random(32).toString('base64url')}`;
      const expiresAt = expiryOf(tenant, base, at);
      const write = deps.store.refreshTokenWrite(tenant, hashRefreshToken(refreshToken), { ...base, createdAt: at, expiresAt });
      return { session: sessionOf(base, refreshToken, expiresAt, at), write };
    },

    /**
     * Exchanges a refresh token for its successor. Every refusal is the same 401, so a caller
     * learns nothing about which tokens exist, and a session past its absolute lifetime answers
     * like an expired token. Two writes: the successor first (nobody holds it until we answer, so
     * losing below leaves only an unreachable item), then the rotation mark, conditional on the
     * token not being exchanged yet and on the session not being revoked: that write decides
     * races with other refreshes and with logout.
     */
    async refresh(tenant: Tenant, presented: string): Promise<Session> {
      if (!TOKEN_SHAPE.test(presented)) throw errors.invalidRefreshToken();
      const tokenHash = hashRefreshToken(presented);
      const record = await deps.store.findRefreshToken(tenant, tokenHash);
      if (!record) throw errors.invalidRefreshToken();
      const at = now();
      const state = await deps.store.revocationState(tenant, record.userId, record.familyId);
      if (state.familyRevokedAt !== undefined || (state.revokedBefore !== undefined && record.familyCreatedAt <= state.revokedBefore)) {
        throw errors.invalidRefreshToken();
      }
      if (record.expiresAt <= at || familyEnd(tenant, record) <= at) throw errors.invalidRefreshToken();
      if (record.rotatedAt !== undefined) {
        await revokeForReuse(tenant, record, at);
        throw errors.invalidRefreshToken();
      }
      const { createdAt: _c, expiresAt: _e, rotatedAt: _r, ...rest } = record;
      const base = { ...rest, familyExpiresAt: familyEnd(tenant, record) };
      const successor = await issue(tenant, base, at);
      const outcome = await deps.store.markRotated(tenant, tokenHash, at, record);
      if (outcome === 'raced') {
        // Another request exchanged this very token meanwhile: one token, two users.
        await revokeForReuse(tenant, record, at);
        throw errors.invalidRefreshToken();
      }
      // Logged out while this refresh was on its way: the successor stays unreachable, nothing is minted.
      if (outcome === 'revoked') throw errors.invalidRefreshToken();
      log.info('session refreshed', where(tenant, record));
      return successor;
    },

    /** Logout: the session's refresh tokens stop working (its access tokens run to their expiry). */
    async revoke(tenant: Tenant, userId: string, sessionId: string): Promise<void> {
      const at = now();
      await deps.store.revokeFamily(tenant, userId, sessionId, 'logout', at, keepRevocationUntil(at));
      log.info('session revoked', { projectId: tenant.projectId, environment: tenant.environment, userId, sessionId });
    },

    /** Logout everywhere: every session of the user started until now. */
    async revokeAll(tenant: Tenant, userId: string): Promise<void> {
      const at = now();
      await deps.store.revokeAllFamilies(tenant, userId, at, keepRevocationUntil(at));
      log.info('all sessions revoked', { projectId: tenant.projectId, environment: tenant.environment, userId });
    },
  };
};

export type Sessions = ReturnType<typeof createSessions>;
