import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { cancelledBy } from '#core/store/dynamo';

/**
 * Projects, environments and keys in the one table (users and codes: store/identities.ts;
 * counters: store/counters.ts). Keys (pk / sk):
 *   APPKEY#<sha256>                 / APPKEY      the project and environment a key belongs to
 *   PROJECT#<projectId>             / PROJECT     name and settings
 *   PROJECT#<projectId>             / ENV#<env>   an environment of the project
 *   VERIFYSERVICE#<sid>             / VERIFYSERVICE              a Twilio Verify ServiceSid: its project and environment
 *   PROJECT#<projectId>             / VERIFYSERVICE#<env>#<sid>  the same, listed under the project
 */

export interface TenantRef {
  readonly projectId: string;
  readonly environment: string;
}

export interface AppKeyRecord extends TenantRef {
  readonly keyId: string;
}

export interface ProjectRecord {
  readonly projectId: string;
  readonly name: string;
  readonly settings: Record<string, unknown>;
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

const verifyServiceOf = (item: Record<string, unknown>): VerifyServiceRecord => ({
  serviceSid: item.serviceSid as string,
  accountSid: item.accountSid as string,
  projectId: item.projectId as string,
  environment: item.environment as string,
  friendlyName: item.friendlyName as string,
  createdAt: item.createdAt as string,
});

export const createRepository = (doc: DynamoDBDocumentClient, tableName: string) => {
  return {
    async findAppKey(keyHash: string): Promise<AppKeyRecord | undefined> {
      const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: `APPKEY#${keyHash}`, sk: 'APPKEY' } }));
      return Item ? { projectId: Item.projectId, environment: Item.environment, keyId: Item.keyId } : undefined;
    },

    async findProject(projectId: string): Promise<ProjectRecord | undefined> {
      const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: `PROJECT#${projectId}`, sk: 'PROJECT' } }));
      return Item ? { projectId: Item.projectId, name: Item.name, settings: Item.settings ?? {} } : undefined;
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
              ]),
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
          ],
        }),
      );
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
          UpdateExpression: 'SET settings = :s',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':s': settings },
        }),
      );
    },
  };
};

export type Repository = ReturnType<typeof createRepository>;
