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

  const sessionOf = (base: Omit<RefreshTokenRecord, 'createdAt' | 'expiresAt' | 'rotatedAt'>, refreshToken: string, ttlSeconds: number): Session => {
    return {
      userId: base.userId,
      sessionId: base.familyId,
      refreshToken,
      refreshExpiresIn: ttlSeconds,
      claims: base.claims,
      accessTtlSeconds: base.accessTtlSeconds,
    };
  };

  const issue = async (tenant: Tenant, base: Omit<RefreshTokenRecord, 'createdAt' | 'expiresAt' | 'rotatedAt'>, at: number): Promise<Session> => {
    const refreshToken = `${TOKEN_PREFIX}${random(32).toString('base64url')}`;
    const ttlSeconds = tenant.settings.refreshTokenTtlSeconds;
    await deps.store.putRefreshToken(tenant, hashRefreshToken(refreshToken), { ...base, createdAt: at, expiresAt: at + ttlSeconds * 1000 });
    return sessionOf(base, refreshToken, ttlSeconds);
  };

  const revokeForReuse = async (tenant: Tenant, record: RefreshTokenRecord, at: number) => {
    await deps.store.revokeFamily(tenant, record.userId, record.familyId, 'reuse', at, keepRevocationUntil(at));
    log.warn('refresh token reused; session revoked', where(tenant, record));
  };

  return {
    /** Starts a session for a user who just verified a code: one write. */
    async start(tenant: Tenant, userId: string, grant: SessionGrant): Promise<Session> {
      const at = now();
      return issue(tenant, { userId, familyId: randomUUID(), familyCreatedAt: at, claims: grant.claims, accessTtlSeconds: grant.accessTtlSeconds }, at);
    },

    /**
     * A session that starts in someone else's write: the refresh token's item, for the transaction
     * that uses up the code, so a code is never used without its session existing (and the other
     * way round), whatever fails in between.
     */
    prepare(tenant: Tenant, userId: string, grant: SessionGrant): { readonly session: Session; readonly write: ReturnType<SessionStore['refreshTokenWrite']> } {
      const at = now();
      const base = { userId, familyId: randomUUID(), familyCreatedAt: at, claims: grant.claims, accessTtlSeconds: grant.accessTtlSeconds };
      const refreshToken = `${TOKEN_PREFIX}${random(32).toString('base64url')}`;
      const ttlSeconds = tenant.settings.refreshTokenTtlSeconds;
      const write = deps.store.refreshTokenWrite(tenant, hashRefreshToken(refreshToken), { ...base, createdAt: at, expiresAt: at + ttlSeconds * 1000 });
      return { session: sessionOf(base, refreshToken, ttlSeconds), write };
    },

    /**
     * Exchanges a refresh token for its successor. Every refusal is the same 401, so a caller
     * learns nothing about which tokens exist. Two writes: the successor first (nobody holds it
     * until we answer, so losing the race below leaves only an unreachable item), then the
     * conditional rotation mark that decides the race.
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
      if (record.expiresAt <= at) throw errors.invalidRefreshToken();
      if (record.rotatedAt !== undefined) {
        await revokeForReuse(tenant, record, at);
        throw errors.invalidRefreshToken();
      }
      const { createdAt: _c, expiresAt: _e, rotatedAt: _r, ...base } = record;
      const successor = await issue(tenant, base, at);
      if (!(await deps.store.markRotated(tenant, tokenHash, at))) {
        // Another request exchanged this very token meanwhile: one token, two users.
        await revokeForReuse(tenant, record, at);
        throw errors.invalidRefreshToken();
      }
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
