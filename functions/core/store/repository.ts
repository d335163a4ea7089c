import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { DeliveryChannel, Identity } from '#core/otp/identity';

/**
 * Every read and write otpgate makes to its one table. Keys (pk / sk):
 *   APPKEY#<sha256>                 / APPKEY      the project and environment a key belongs to
 *   PROJECT#<projectId>             / PROJECT     name and settings
 *   PROJECT#<projectId>             / ENV#<env>   an environment of the project
 *   PROJECT#<projectId>             / KEY#<env>#<keyId>  a key of the project (its hash, never the key), for listing
 *   PROJECTS                        / PROJECT#<projectId>  the list of projects (name, created)
 *   T#<project>#<env>#ID#<ch>#<addr> / IDENTITY   address -> user id (uniqueness)
 *   T#<project>#<env>#USER#<userId> / USER        the user
 *   T#<project>#<env>#OTP#<ch>#<addr> / OTP       the one pending code for an address
 * Every tenant-owned key starts with the tenant, so nothing of one project or environment can be
 * addressed from another.
 */

export interface TenantRef {
  readonly projectId: string;
  readonly environment: string;
}

export interface AppKeyRecord extends TenantRef {
  readonly keyId: string;
  /** Epoch ms after which the key no longer opens anything (a key rotated with a grace period). */
  readonly expiresAt?: number | undefined;
}

/** A key as listed: never the key itself. */
export interface AppKeyListing extends AppKeyRecord {
  readonly keyHash: string;
  readonly createdAt: string;
}

export interface ProjectRecord {
  readonly projectId: string;
  readonly name: string;
  readonly settings: Record<string, unknown>;
  /** Bumped on every settings change, so two concurrent changes cannot silently overwrite each other. */
  readonly settingsRevision?: number;
}

export interface ProjectListing {
  readonly projectId: string;
  readonly name: string;
  readonly createdAt: string;
}

export interface EnvironmentListing {
  readonly environment: string;
  readonly createdAt: string;
}

export interface UserRecord {
  readonly userId: string;
  readonly mobile?: string;
  readonly email?: string;
  readonly createdAt: string;
}

export interface OtpRecord {
  readonly challengeId: string;
  /** The user the code was sent to; absent when the address had no user yet (styles that create users on verify). */
  readonly userId?: string | undefined;
  readonly channel: DeliveryChannel;
  readonly codeHash: string;
  readonly expiresAt: number; // epoch ms; the authority on expiry
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly createdAt: number;
}

export type AttemptOutcome =
  | { readonly kind: 'counted'; readonly otp: OtpRecord }
  | { readonly kind: 'none' }
  | { readonly kind: 'expired' }
  | { readonly kind: 'exhausted' };

export interface NewProject {
  readonly projectId: string;
  readonly name: string;
  readonly settings: Record<string, unknown>;
  readonly environments: readonly { readonly environment: string; readonly keyHash: string; readonly keyId: string }[];
}

export class ProjectExistsError extends Error {
  readonly projectId: string;

  constructor(projectId: string, options?: { cause?: unknown }) {
    super(`otpgate: project ${projectId} already exists`, options);
    this.name = 'ProjectExistsError';
    this.projectId = projectId;
  }
}

export class ProjectNotFoundError extends Error {
  readonly projectId: string;

  constructor(projectId: string, options?: { cause?: unknown }) {
    super(`otpgate: no project ${projectId}`, options);
    this.name = 'ProjectNotFoundError';
    this.projectId = projectId;
  }
}

export class EnvironmentExistsError extends Error {
  constructor(tenant: TenantRef, options?: { cause?: unknown }) {
    super(`otpgate: project ${tenant.projectId} already has an environment ${tenant.environment}`, options);
    this.name = 'EnvironmentExistsError';
  }
}

/** Another change to the same settings landed between our read and our write. */
export class SettingsChangedError extends Error {
  constructor(projectId: string, options?: { cause?: unknown }) {
    super(`otpgate: the settings of ${projectId} changed meanwhile; run the command again`, options);
    this.name = 'SettingsChangedError';
  }
}

export class IdentityTakenError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('otpgate: identity already registered', options);
    this.name = 'IdentityTakenError';
  }
}

const tenantPrefix = (t: TenantRef) => `T#${t.projectId}#${t.environment}`;
const identityKey = (t: TenantRef, id: Identity) => ({ pk: `${tenantPrefix(t)}#ID#${id.kind}#${id.address}`, sk: 'IDENTITY' });
const userKey = (t: TenantRef, userId: string) => ({ pk: `${tenantPrefix(t)}#USER#${userId}`, sk: 'USER' });
const otpKey = (t: TenantRef, id: Identity) => ({ pk: `${tenantPrefix(t)}#OTP#${id.kind}#${id.address}`, sk: 'OTP' });

/** The DynamoDB TTL only sweeps; keep records a day past expiry so a late verify still reads "expired". */
const SWEEP_GRACE_SECONDS = 86_400;
const ttlFor = (expiresAt: number) => Math.floor(expiresAt / 1000) + SWEEP_GRACE_SECONDS;

const environmentItem = (project: { projectId: string }, environment: string, createdAt: string) => ({
  pk: `PROJECT#${project.projectId}`,
  sk: `ENV#${environment}`,
  environment,
  createdAt,
});

const appKeyItem = (project: { projectId: string }, environment: string, keyHash: string, keyId: string, createdAt: string) => ({
  pk: `APPKEY#${keyHash}`,
  sk: 'APPKEY',
  projectId: project.projectId,
  environment,
  keyId,
  createdAt,
});

/** Listing entry of a key, written and deleted in the same transaction as its APPKEY item. */
const keyIndexKey = (tenant: TenantRef, keyId: string) => ({ pk: `PROJECT#${tenant.projectId}`, sk: `KEY#${tenant.environment}#${keyId}` });
const keyIndexItem = (tenant: TenantRef, keyHash: string, keyId: string, createdAt: string) => ({
  ...keyIndexKey(tenant, keyId),
  environment: tenant.environment,
  keyId,
  keyHash,
  createdAt,
});

type Row = Record<string, unknown>;
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

const projectListKey = (projectId: string) => ({ pk: 'PROJECTS', sk: `PROJECT#${projectId}` });

const cancelledBy = (error: unknown, index: number, code = 'ConditionalCheckFailed'): boolean =>
  error instanceof TransactionCanceledException && error.CancellationReasons?.[index]?.Code === code;

/** DynamoDB cancels a transaction that overlaps another one on the same item; it is safe to run again. */
const conflicted = (error: unknown): boolean =>
  error instanceof TransactionCanceledException && (error.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict');

const retryOnConflict = async <T>(run: () => Promise<T>, tries = 3): Promise<T> => {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await run();
    } catch (error) {
      if (!conflicted(error) || attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40 * attempt));
    }
  }
};

export type ConsumeOutcome = 'consumed' | 'gone' | 'no-user';
export type CreatingConsumeOutcome = 'consumed' | 'gone' | 'identity-exists';

export const createRepository = (doc: DynamoDBDocumentClient, tableName: string) => {
  const otpItem = (tenant: TenantRef, identity: Identity, otp: OtpRecord) => ({
    ...otpKey(tenant, identity),
    ...otp,
    ttl: ttlFor(otp.expiresAt),
  });

  const queryAll = async (where: { pk: string; prefix: string }): Promise<Row[]> => {
    const items: Row[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': where.pk, ':prefix': where.prefix },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  };

  return {
    async findAppKey(keyHash: string): Promise<AppKeyRecord | undefined> {
      const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: `APPKEY#${keyHash}`, sk: 'APPKEY' } }));
      return Item
        ? { projectId: Item.projectId, environment: Item.environment, keyId: Item.keyId, ...(Item.expiresAt === undefined ? {} : { expiresAt: Item.expiresAt }) }
        : undefined;
    },

    async findProject(projectId: string): Promise<ProjectRecord | undefined> {
      const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: `PROJECT#${projectId}`, sk: 'PROJECT' } }));
      return Item ? { projectId: Item.projectId, name: Item.name, settings: Item.settings ?? {}, settingsRevision: Item.settingsRevision ?? 0 } : undefined;
    },

    async environmentExists(tenant: TenantRef): Promise<boolean> {
      const { Item } = await doc.send(
        new GetCommand({ TableName: tableName, Key: { pk: `PROJECT#${tenant.projectId}`, sk: `ENV#${tenant.environment}` } }),
      );
      return Item !== undefined;
    },

    /** The project, its environments and one key each, all or nothing. */
    async createProject(project: NewProject, now: Date): Promise<void> {
      const createdAt = now.toISOString();
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: tableName,
                  Item: { pk: `PROJECT#${project.projectId}`, sk: 'PROJECT', projectId: project.projectId, name: project.name, settings: project.settings, createdAt },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              ...project.environments.flatMap((env) => [
                { Put: { TableName: tableName, Item: environmentItem(project, env.environment, createdAt), ConditionExpression: 'attribute_not_exists(pk)' } },
                { Put: { TableName: tableName, Item: appKeyItem(project, env.environment, env.keyHash, env.keyId, createdAt), ConditionExpression: 'attribute_not_exists(pk)' } },
                { Put: { TableName: tableName, Item: keyIndexItem({ projectId: project.projectId, environment: env.environment }, env.keyHash, env.keyId, createdAt) } },
              ]),
              { Put: { TableName: tableName, Item: { ...projectListKey(project.projectId), projectId: project.projectId, name: project.name, createdAt } } },
            ],
          }),
        );
      } catch (error) {
        if (cancelledBy(error, 0)) throw new ProjectExistsError(project.projectId, { cause: error });
        throw error;
      }
    },

    /** A further key for an existing environment (the environment is created if missing). */
    async addAppKey(tenant: TenantRef, keyHash: string, keyId: string, now: Date): Promise<void> {
      const createdAt = now.toISOString();
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                ConditionCheck: {
                  TableName: tableName,
                  Key: { pk: `PROJECT#${tenant.projectId}`, sk: 'PROJECT' },
                  ConditionExpression: 'attribute_exists(pk)',
                },
              },
              { Put: { TableName: tableName, Item: environmentItem(tenant, tenant.environment, createdAt) } },
              { Put: { TableName: tableName, Item: appKeyItem(tenant, tenant.environment, keyHash, keyId, createdAt), ConditionExpression: 'attribute_not_exists(pk)' } },
              { Put: { TableName: tableName, Item: keyIndexItem(tenant, keyHash, keyId, createdAt) } },
            ],
          }),
        );
      } catch (error) {
        if (cancelledBy(error, 0)) throw new ProjectNotFoundError(tenant.projectId, { cause: error });
        throw error;
      }
    },

    /** A new environment of an existing project, with its first key; an existing environment is refused. */
    async addEnvironment(tenant: TenantRef, keyHash: string, keyId: string, now: Date): Promise<void> {
      const createdAt = now.toISOString();
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                ConditionCheck: {
                  TableName: tableName,
                  Key: { pk: `PROJECT#${tenant.projectId}`, sk: 'PROJECT' },
                  ConditionExpression: 'attribute_exists(pk)',
                },
              },
              { Put: { TableName: tableName, Item: environmentItem(tenant, tenant.environment, createdAt), ConditionExpression: 'attribute_not_exists(pk)' } },
              { Put: { TableName: tableName, Item: appKeyItem(tenant, tenant.environment, keyHash, keyId, createdAt), ConditionExpression: 'attribute_not_exists(pk)' } },
              { Put: { TableName: tableName, Item: keyIndexItem(tenant, keyHash, keyId, createdAt) } },
            ],
          }),
        );
      } catch (error) {
        if (cancelledBy(error, 0)) throw new ProjectNotFoundError(tenant.projectId, { cause: error });
        if (cancelledBy(error, 1)) throw new EnvironmentExistsError(tenant, { cause: error });
        throw error;
      }
    },

    /** Every project created since the project list existed, by id. */
    async listProjects(): Promise<ProjectListing[]> {
      const items = await queryAll({ pk: 'PROJECTS', prefix: 'PROJECT#' });
      return items.map((item) => ({ projectId: text(item.projectId), name: text(item.name), createdAt: text(item.createdAt) }));
    },

    async listEnvironments(projectId: string): Promise<EnvironmentListing[]> {
      const items = await queryAll({ pk: `PROJECT#${projectId}`, prefix: 'ENV#' });
      return items.map((item) => ({ environment: text(item.environment), createdAt: text(item.createdAt) }));
    },

    /** The project's keys (of one environment, or all), from their listing entries: ids and hashes, never keys. */
    async listAppKeys(projectId: string, environment?: string): Promise<AppKeyListing[]> {
      const items = await queryAll({ pk: `PROJECT#${projectId}`, prefix: environment === undefined ? 'KEY#' : `KEY#${environment}#` });
      return items.map((item) => ({
        projectId,
        environment: text(item.environment),
        keyId: text(item.keyId),
        keyHash: text(item.keyHash),
        createdAt: text(item.createdAt),
        ...(typeof item.expiresAt === 'number' ? { expiresAt: item.expiresAt } : {}),
      }));
    },

    /** Deletes a key and its listing entry together; false when there was no such key. */
    async revokeAppKey(key: AppKeyListing): Promise<boolean> {
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              { Delete: { TableName: tableName, Key: keyIndexKey(key, key.keyId), ConditionExpression: 'attribute_exists(pk)' } },
              {
                Delete: {
                  TableName: tableName,
                  Key: { pk: `APPKEY#${key.keyHash}`, sk: 'APPKEY' },
                  ConditionExpression: 'projectId = :p AND environment = :e',
                  ExpressionAttributeValues: { ':p': key.projectId, ':e': key.environment },
                },
              },
            ],
          }),
        );
        return true;
      } catch (error) {
        if (cancelledBy(error, 0) || cancelledBy(error, 1)) return false;
        throw error;
      }
    },

    /**
     * Replaces a key in one transaction: the new key and its listing entry are written, and the old
     * key is deleted, or, with a grace period, kept until `oldExpiresAt` (the TTL sweeps it later).
     */
    async replaceAppKey(old: AppKeyListing, next: { keyHash: string; keyId: string }, now: Date, oldExpiresAt?: number): Promise<boolean> {
      const createdAt = now.toISOString();
      const oldKeyItem = { pk: `APPKEY#${old.keyHash}`, sk: 'APPKEY' };
      const oldGoes =
        oldExpiresAt === undefined
          ? [
              { Delete: { TableName: tableName, Key: keyIndexKey(old, old.keyId), ConditionExpression: 'attribute_exists(pk)' } },
              { Delete: { TableName: tableName, Key: oldKeyItem, ConditionExpression: 'attribute_exists(pk)' } },
            ]
          : [keyIndexKey(old, old.keyId), oldKeyItem].map((Key) => ({
              Update: {
                TableName: tableName,
                Key,
                UpdateExpression: 'SET expiresAt = :x, #ttl = :ttl',
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeNames: { '#ttl': 'ttl' },
                ExpressionAttributeValues: { ':x': oldExpiresAt, ':ttl': ttlFor(oldExpiresAt) },
              },
            }));
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              ...oldGoes,
              { Put: { TableName: tableName, Item: appKeyItem(old, old.environment, next.keyHash, next.keyId, createdAt), ConditionExpression: 'attribute_not_exists(pk)' } },
              { Put: { TableName: tableName, Item: keyIndexItem(old, next.keyHash, next.keyId, createdAt) } },
            ],
          }),
        );
        return true;
      } catch (error) {
        if (cancelledBy(error, 0) || cancelledBy(error, 1)) return false;
        throw error;
      }
    },

    /** Replaces the project's settings, only if nobody changed them since `revision` was read. */
    async updateSettings(projectId: string, settings: Record<string, unknown>, revision: number): Promise<void> {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: `PROJECT#${projectId}`, sk: 'PROJECT' },
            UpdateExpression: 'SET settings = :s, settingsRevision = :next',
            ConditionExpression: `attribute_exists(pk) AND ${revision === 0 ? 'attribute_not_exists(settingsRevision)' : 'settingsRevision = :rev'}`,
            ExpressionAttributeValues: { ':s': settings, ':next': revision + 1, ...(revision === 0 ? {} : { ':rev': revision }) },
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) throw new SettingsChangedError(projectId, { cause: error });
        throw error;
      }
    },

    async findUserId(tenant: TenantRef, identity: Identity): Promise<string | undefined> {
      const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: identityKey(tenant, identity) }));
      return Item?.userId as string | undefined;
    },

    /** Registers the address, creates the user and stores its first code in one transaction. */
    async createUserWithOtp(tenant: TenantRef, identity: Identity, user: UserRecord, otp: OtpRecord): Promise<void> {
      try {
        // A concurrent signup of the same address conflicts; run again, and the loser sees the winner's user.
        await retryOnConflict(() => doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: tableName,
                  Item: { ...identityKey(tenant, identity), userId: user.userId, createdAt: user.createdAt },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              { Put: { TableName: tableName, Item: { ...userKey(tenant, user.userId), ...user }, ConditionExpression: 'attribute_not_exists(pk)' } },
              { Put: { TableName: tableName, Item: otpItem(tenant, identity, otp) } },
            ],
          }),
        ));
      } catch (error) {
        if (cancelledBy(error, 0)) throw new IdentityTakenError({ cause: error });
        throw error;
      }
    },

    /** Undoes createUserWithOtp when the first code could not be delivered, so signing up again works. */
    async deleteUserWithOtp(tenant: TenantRef, identity: Identity, userId: string, challengeId: string): Promise<void> {
      await retryOnConflict(() => doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Delete: { TableName: tableName, Key: identityKey(tenant, identity), ConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId } } },
            { Delete: { TableName: tableName, Key: userKey(tenant, userId) } },
            { Delete: { TableName: tableName, Key: otpKey(tenant, identity), ConditionExpression: 'attribute_not_exists(pk) OR challengeId = :c', ExpressionAttributeValues: { ':c': challengeId } } },
          ],
        }),
      ));
    },

    /** Stores a new code for the address, replacing any code still pending; returns the one it replaced. */
    async putOtp(tenant: TenantRef, identity: Identity, otp: OtpRecord): Promise<OtpRecord | undefined> {
      const { Attributes } = await doc.send(new PutCommand({ TableName: tableName, Item: otpItem(tenant, identity, otp), ReturnValues: 'ALL_OLD' }));
      return Attributes as OtpRecord | undefined;
    },

    /**
     * Undoes putOtp when the new code could not be delivered: the code the user may still hold comes
     * back (or the record goes, if there was none), unless a newer code has replaced ours meanwhile.
     */
    async restoreOtp(tenant: TenantRef, identity: Identity, ours: string, previous: OtpRecord | undefined): Promise<void> {
      const condition = { ConditionExpression: 'challengeId = :c', ExpressionAttributeValues: { ':c': ours } };
      try {
        if (previous) await doc.send(new PutCommand({ TableName: tableName, Item: otpItem(tenant, identity, previous), ...condition }));
        else await doc.send(new DeleteCommand({ TableName: tableName, Key: otpKey(tenant, identity), ...condition }));
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    },

    /**
     * Uses up a code that verified: deleted only if it is still the same challenge, and only while
     * the address still belongs to the user the code was issued for (a signup being undone, or a
     * user removed, gets no token). Of concurrent verifies of one code exactly one is 'consumed'.
     */
    async consumeOtp(tenant: TenantRef, identity: Identity, challengeId: string, userId: string): Promise<ConsumeOutcome> {
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              { Delete: { TableName: tableName, Key: otpKey(tenant, identity), ConditionExpression: 'challengeId = :c', ExpressionAttributeValues: { ':c': challengeId } } },
              { ConditionCheck: { TableName: tableName, Key: identityKey(tenant, identity), ConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId } } },
            ],
          }),
        );
        return 'consumed';
      } catch (error) {
        // A conflict is another verify of this code in flight: at most one of them can win, and it is not us.
        if (cancelledBy(error, 0) || cancelledBy(error, 0, 'TransactionConflict')) return 'gone';
        if (cancelledBy(error, 1)) return 'no-user';
        throw error;
      }
    },

    /**
     * Uses up a code sent to an address that had no user yet, and registers the user in the same
     * transaction. 'identity-exists' means someone registered the address meanwhile (another style's
     * signup): the caller consumes again as that user.
     */
    async consumeOtpCreatingUser(tenant: TenantRef, identity: Identity, challengeId: string, user: UserRecord): Promise<CreatingConsumeOutcome> {
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              { Delete: { TableName: tableName, Key: otpKey(tenant, identity), ConditionExpression: 'challengeId = :c', ExpressionAttributeValues: { ':c': challengeId } } },
              {
                Put: {
                  TableName: tableName,
                  Item: { ...identityKey(tenant, identity), userId: user.userId, createdAt: user.createdAt },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              { Put: { TableName: tableName, Item: { ...userKey(tenant, user.userId), ...user }, ConditionExpression: 'attribute_not_exists(pk)' } },
            ],
          }),
        );
        return 'consumed';
      } catch (error) {
        if (cancelledBy(error, 0) || cancelledBy(error, 0, 'TransactionConflict')) return 'gone';
        if (cancelledBy(error, 1)) return 'identity-exists';
        throw error;
      }
    },

    /** Uses up a code of a style that has no users (the WhatsApp OTP API): only the challenge matters. */
    async consumeOtpOnly(tenant: TenantRef, identity: Identity, challengeId: string): Promise<'consumed' | 'gone'> {
      try {
        await doc.send(
          new DeleteCommand({
            TableName: tableName,
            Key: otpKey(tenant, identity),
            ConditionExpression: 'challengeId = :c',
            ExpressionAttributeValues: { ':c': challengeId },
          }),
        );
        return 'consumed';
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return 'gone';
        throw error;
      }
    },

    /**
     * Counts one verification attempt before the code is compared, atomically: the attempt is
     * recorded only while the code is live and has tries left. Counting first means concurrent
     * guesses cannot get more tries than maxAttempts between them.
     */
    async countAttempt(tenant: TenantRef, identity: Identity, now: number, challengeId?: string): Promise<AttemptOutcome> {
      // A style that names the challenge (a verification id) may only spend tries of that very code.
      const sameChallenge = challengeId === undefined ? '' : ' AND challengeId = :c';
      try {
        const { Attributes } = await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: otpKey(tenant, identity),
            UpdateExpression: 'ADD attempts :one',
            ConditionExpression: `attribute_exists(pk)${sameChallenge} AND expiresAt > :now AND attempts < maxAttempts`,
            ExpressionAttributeValues: { ':one': 1, ':now': now, ...(challengeId === undefined ? {} : { ':c': challengeId }) },
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { kind: 'counted', otp: Attributes as OtpRecord };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const old = error.Item as Record<string, { N?: string; S?: string }> | undefined;
        if (!old || (challengeId !== undefined && old.challengeId?.S !== challengeId)) return { kind: 'none' };
        if (Number(old.expiresAt?.N) <= now) return { kind: 'expired' };
        return { kind: 'exhausted' };
      }
    },
  };
};

export type Repository = ReturnType<typeof createRepository>;
