import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { cancelledBy } from '#core/store/dynamo';

/**
 * Projects, environments and keys in the one table (users and codes: store/identities.ts;
 * counters: store/counters.ts). Keys (pk / sk):
 *   APPKEY#<sha256>                 / APPKEY      the project and environment a key belongs to
 *   PROJECT#<projectId>             / PROJECT     name and settings
 *   PROJECT#<projectId>             / ENV#<env>   an environment of the project
 *   PROJECT#<projectId>             / KEY#<env>#<keyId>  a key of the project (its hash, never the key), for listing
 *   PROJECTS                        / PROJECT#<projectId>  the list of projects (name, created)
 *   VERIFYSERVICE#<sid>             / VERIFYSERVICE              a Twilio Verify ServiceSid: its project and environment
 *   PROJECT#<projectId>             / VERIFYSERVICE#<env>#<sid>  the same, listed under the project
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

export interface NewProject {
  readonly projectId: string;
  readonly name: string;
  readonly settings: Record<string, unknown>;
  readonly environments: readonly { readonly environment: string; readonly keyHash: string; readonly keyId: string }[];
}

/** A Twilio Verify service: the ServiceSid (and its account id) an app's twilio client names one project and environment by. */
export interface VerifyServiceRecord extends TenantRef {
  readonly serviceSid: string;
  readonly accountSid: string;
  readonly friendlyName: string;
  readonly createdAt: string;
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

/** The DynamoDB TTL only sweeps: a key past its grace period is refused by the resolvers before that. */
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

const verifyServiceOf = (item: Record<string, unknown>): VerifyServiceRecord => ({
  serviceSid: item.serviceSid as string,
  accountSid: item.accountSid as string,
  projectId: item.projectId as string,
  environment: item.environment as string,
  friendlyName: item.friendlyName as string,
  createdAt: item.createdAt as string,
});

export const createRepository = (doc: DynamoDBDocumentClient, tableName: string) => {
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


  /**
   * A key (and its environment item) of an existing project, in one transaction: refused when the
   * project does not exist, and, for a new environment, when the environment already does.
   */
  const putKey = async (tenant: TenantRef, keyHash: string, keyId: string, now: Date, { newEnvironment }: { newEnvironment: boolean }) => {
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
            {
              Put: {
                TableName: tableName,
                Item: environmentItem(tenant, tenant.environment, createdAt),
                ...(newEnvironment ? { ConditionExpression: 'attribute_not_exists(pk)' } : {}),
              },
            },
            { Put: { TableName: tableName, Item: appKeyItem(tenant, tenant.environment, keyHash, keyId, createdAt), ConditionExpression: 'attribute_not_exists(pk)' } },
            { Put: { TableName: tableName, Item: keyIndexItem(tenant, keyHash, keyId, createdAt) } },
          ],
        }),
      );
    } catch (error) {
      if (cancelledBy(error, 0)) throw new ProjectNotFoundError(tenant.projectId, { cause: error });
      if (newEnvironment && cancelledBy(error, 1)) throw new EnvironmentExistsError(tenant, { cause: error });
      throw error;
    }
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
      await putKey(tenant, keyHash, keyId, now, { newEnvironment: false });
    },

    /** A new environment of an existing project, with its first key; an existing environment is refused. */
    async addEnvironment(tenant: TenantRef, keyHash: string, keyId: string, now: Date): Promise<void> {
      await putKey(tenant, keyHash, keyId, now, { newEnvironment: true });
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

    async findVerifyService(serviceSid: string): Promise<VerifyServiceRecord | undefined> {
      const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: `VERIFYSERVICE#${serviceSid}`, sk: 'VERIFYSERVICE' } }));
      return Item ? verifyServiceOf(Item) : undefined;
    },

    /** A new Verify service of an existing environment: the lookup item and its listing under the project, together. */
    async putVerifyService(service: VerifyServiceRecord): Promise<void> {
      const item = { ...service };
      await doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: tableName,
                Key: { pk: `PROJECT#${service.projectId}`, sk: `ENV#${service.environment}` },
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            { Put: { TableName: tableName, Item: { pk: `VERIFYSERVICE#${service.serviceSid}`, sk: 'VERIFYSERVICE', ...item }, ConditionExpression: 'attribute_not_exists(pk)' } },
            {
              Put: {
                TableName: tableName,
                Item: { pk: `PROJECT#${service.projectId}`, sk: `VERIFYSERVICE#${service.environment}#${service.serviceSid}`, ...item },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
    },

    /** The environment's Verify services, oldest first. */
    async listVerifyServices(tenant: TenantRef): Promise<VerifyServiceRecord[]> {
      const services: VerifyServiceRecord[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            ExpressionAttributeValues: { ':pk': `PROJECT#${tenant.projectId}`, ':prefix': `VERIFYSERVICE#${tenant.environment}#` },
            ExclusiveStartKey: startKey,
          }),
        );
        services.push(...(page.Items ?? []).map(verifyServiceOf));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return services.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    },

    /** Replaces a project's settings; the caller validates them (settingsSchema). */
    async setProjectSettings(projectId: string, settings: Record<string, unknown>): Promise<void> {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: `PROJECT#${projectId}`, sk: 'PROJECT' },
          // Counts as a change for updateSettings' revision check too.
          UpdateExpression: 'SET settings = :s ADD settingsRevision :one',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':s': settings, ':one': 1 },
        }),
      );
    },
  };
};

export type Repository = ReturnType<typeof createRepository>;
