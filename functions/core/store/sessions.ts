import { ConditionalCheckFailedException, TransactionCanceledException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { conflicted, tenantPrefix } from '#core/store/dynamo';
import type { TenantRef } from '#core/store/repository';

/**
 * Sessions: refresh tokens and their revocation. Keys (pk / sk):
 *   T#<project>#<env>#RT#<sha256 of the token> / RT                 one refresh token: user, session (family), expiry, rotation
 *   T#<project>#<env>#USER#<userId>            / FAMILY#<familyId>  a revoked session; written only by logout or reuse detection
 *   T#<project>#<env>#USER#<userId>            / SESSIONS           "every session started up to revokedBefore is revoked" (logout everywhere)
 * A sign-in writes one item (its first refresh token); a refresh writes two (the successor, and the
 * rotation mark on the token it replaces, in a transaction that checks both revocation items, so a
 * logout that lands first stops the rotation). Revocations live under the user, so "this session"
 * and "all sessions" are one write each and a refresh reads both with two key lookups, no query.
 */

export interface RefreshTokenRecord {
  readonly userId: string;
  /** The session this token belongs to: the `sid` claim of its access tokens. */
  readonly familyId: string;
  /** When the sign-in that started the session happened (epoch ms); compared with revokedBefore. */
  readonly familyCreatedAt: number;
  readonly createdAt: number;
  /** Epoch ms; decided in code, the TTL only sweeps. */
  readonly expiresAt: number;
  /**
   * Epoch ms: the session's absolute end, fixed at sign-in (the project's sessionMaxLifetimeSeconds
   * then); no refresh token of the session outlives it. Absent on tokens issued before it existed.
   */
  readonly familyExpiresAt?: number;
  /** Set once, when the token was exchanged for its successor; a second use is reuse. */
  readonly rotatedAt?: number;
  /** The access token claims of the style that signed the user in, so a refresh issues the same token. */
  readonly claims: Readonly<Record<string, string>>;
  readonly accessTtlSeconds: number;
}

export interface RevocationState {
  /** When this session was revoked, if it was. */
  readonly familyRevokedAt: number | undefined;
  /** Sessions started at or before this instant are revoked (logout everywhere). */
  readonly revokedBefore: number | undefined;
}

export type RevocationReason = 'logout' | 'reuse';

/** How a rotation ended: done; lost to another exchange of the same token; refused because the session was revoked meanwhile. */
export type RotationOutcome = 'rotated' | 'raced' | 'revoked';

/** Tries of a write that met a transaction in progress on its item (DynamoDB answers TransactionConflict then, and the SDK does not retry it). */
const CONFLICT_TRIES = 5;
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const isConflict = (error: unknown) => error instanceof TransactionConflictException || conflicted(error);

/** Runs a write again while it conflicts with a transaction on the same items; the rounds after the first see who won. */
const retryingConflicts = async <T>(write: () => Promise<T>): Promise<T> => {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await write();
    } catch (error) {
      if (!isConflict(error) || attempt >= CONFLICT_TRIES) throw error;
      await pause(attempt * (5 + Math.random() * 20));
    }
  }
};

const GRACE_SECONDS = 86_400;
const ttlFor = (epochMs: number) => Math.floor(epochMs / 1000) + GRACE_SECONDS;

const refreshTokenKey = (t: TenantRef, tokenHash: string) => ({ pk: `${tenantPrefix(t)}#RT#${tokenHash}`, sk: 'RT' });
const userPartition = (t: TenantRef, userId: string) => `${tenantPrefix(t)}#USER#${userId}`;
const familyKey = (t: TenantRef, userId: string, familyId: string) => ({ pk: userPartition(t, userId), sk: `FAMILY#${familyId}` });
const userSessionsKey = (t: TenantRef, userId: string) => ({ pk: userPartition(t, userId), sk: 'SESSIONS' });

const refreshTokenPut = (tableName: string, tenant: TenantRef, tokenHash: string, record: RefreshTokenRecord) => ({
  TableName: tableName,
  Item: { ...refreshTokenKey(tenant, tokenHash), ...record, ttl: ttlFor(record.expiresAt) },
  ConditionExpression: 'attribute_not_exists(pk)',
});

/** The user's "every session started up to `at` is revoked" mark, kept until `ttl` (epoch seconds). */
const revokeAllUpdate = (tableName: string, tenant: TenantRef, userId: string, at: number, ttl: number) => ({
  TableName: tableName,
  Key: userSessionsKey(tenant, userId),
  UpdateExpression: 'SET revokedBefore = :at, #ttl = :ttl',
  ExpressionAttributeNames: { '#ttl': 'ttl' },
  ExpressionAttributeValues: { ':at': at, ':ttl': ttl },
});

export const createSessionStore = (doc: DynamoDBDocumentClient, tableName: string) => ({
  /** A new refresh token; the condition only guards against the (2^-256) chance of a hash already in use. */
  async putRefreshToken(tenant: TenantRef, tokenHash: string, record: RefreshTokenRecord): Promise<void> {
    await doc.send(new PutCommand(refreshTokenPut(tableName, tenant, tokenHash, record)));
  },

  /** The same write, to go in another store's transaction (a verify starts its session in the write that uses up the code). */
  refreshTokenWrite(tenant: TenantRef, tokenHash: string, record: RefreshTokenRecord): { Put: ReturnType<typeof refreshTokenPut> } {
    return { Put: refreshTokenPut(tableName, tenant, tokenHash, record) };
  },

  async findRefreshToken(tenant: TenantRef, tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    // Strongly consistent: a token issued a moment ago (or rotated a moment ago) must be seen as it is now.
    const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: refreshTokenKey(tenant, tokenHash), ConsistentRead: true }));
    if (!Item) return undefined;
    const { pk: _pk, sk: _sk, ttl: _ttl, ...record } = Item;
    return record as RefreshTokenRecord;
  },

  /**
   * Marks a token as exchanged, atomically, and only while its session is not revoked: of any
   * number of concurrent calls for one token exactly one returns 'rotated', and none does once a
   * logout (of this session, or of all the user's) has landed. One transaction: the conditional
   * mark on the token and condition checks on the two revocation items, so a logout that finishes
   * while a refresh is between its read and this write wins, and that refresh mints nothing.
   * Concurrent transactions on one item may be cancelled with TransactionConflict: retried, and
   * the retry then sees the winner's mark ('raced').
   */
  async markRotated(tenant: TenantRef, tokenHash: string, at: number, family: Pick<RefreshTokenRecord, 'userId' | 'familyId' | 'familyCreatedAt'>): Promise<RotationOutcome> {
    try {
      await retryingConflicts(() =>
        doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: tableName,
                  Key: refreshTokenKey(tenant, tokenHash),
                  UpdateExpression: 'SET rotatedAt = :at',
                  ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(rotatedAt)',
                  ExpressionAttributeValues: { ':at': at },
                },
              },
              { ConditionCheck: { TableName: tableName, Key: familyKey(tenant, family.userId, family.familyId), ConditionExpression: 'attribute_not_exists(revokedAt)' } },
              {
                ConditionCheck: {
                  TableName: tableName,
                  Key: userSessionsKey(tenant, family.userId),
                  ConditionExpression: 'attribute_not_exists(revokedBefore) OR revokedBefore < :started',
                  ExpressionAttributeValues: { ':started': family.familyCreatedAt },
                },
              },
            ],
          }),
        ),
      );
      return 'rotated';
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [token, familyItem, sessions] = (error.CancellationReasons ?? []).map((r) => r.Code);
      if (familyItem === 'ConditionalCheckFailed' || sessions === 'ConditionalCheckFailed') return 'revoked';
      if (token === 'ConditionalCheckFailed') return 'raced';
      throw error;
    }
  },

  async revocationState(tenant: TenantRef, userId: string, familyId: string): Promise<RevocationState> {
    const [family, sessions] = await Promise.all([
      doc.send(new GetCommand({ TableName: tableName, Key: familyKey(tenant, userId, familyId), ConsistentRead: true })),
      doc.send(new GetCommand({ TableName: tableName, Key: userSessionsKey(tenant, userId), ConsistentRead: true })),
    ]);
    return {
      familyRevokedAt: family.Item?.revokedAt as number | undefined,
      revokedBefore: sessions.Item?.revokedBefore as number | undefined,
    };
  },

  /**
   * Revokes one session. Kept until `keepUntil` (epoch ms), past the expiry of any token the
   * session could still hold; the first revocation's time and reason stay.
   */
  async revokeFamily(tenant: TenantRef, userId: string, familyId: string, reason: RevocationReason, at: number, keepUntil: number): Promise<void> {
    await retryingConflicts(() => doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: familyKey(tenant, userId, familyId),
        UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :at), #reason = if_not_exists(#reason, :reason), #ttl = :ttl',
        ExpressionAttributeNames: { '#reason': 'reason', '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':at': at, ':reason': reason, ':ttl': ttlFor(keepUntil) },
      }),
    ));
  },

  /** Revokes every session of the user started at or before `at`; a later mark never moves back. */
  async revokeAllFamilies(tenant: TenantRef, userId: string, at: number, keepUntil: number): Promise<void> {
    try {
      await retryingConflicts(() => doc.send(
        new UpdateCommand({
          ...revokeAllUpdate(tableName, tenant, userId, at, ttlFor(keepUntil)),
          ConditionExpression: 'attribute_not_exists(revokedBefore) OR revokedBefore < :at',
        }),
      ));
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  },
});

export type SessionStore = ReturnType<typeof createSessionStore>;

/** Longer than any session may last (refresh lifetimes are capped well below it): how long a "revoke all" written with a user's removal is kept. */
const REMOVED_USER_MARK_SECONDS = 400 * 86_400;

/**
 * The "every session started up to now is revoked" mark as a transaction item, for writes that
 * end a user with their sessions in one step (removing the user). Unconditional, unlike
 * revokeAllFamilies: a transaction cannot skip one item, and `at` is the latest mark anyway.
 */
export const revokeAllSessionsUpdate = (tableName: string, tenant: TenantRef, userId: string, at: number) =>
  revokeAllUpdate(tableName, tenant, userId, at, Math.floor(at / 1000) + REMOVED_USER_MARK_SECONDS);
