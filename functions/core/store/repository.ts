import { GetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { cancelledBy } from '#core/store/dynamo';

/**
 * Projects, environments and keys in the one table (users and codes: store/identities.ts;
 * counters: store/counters.ts). Keys (pk / sk):
 *   APPKEY#<sha256>                 / APPKEY      the project and environment a key belongs to
 *   PROJECT#<projectId>             / PROJECT     name and settings
 *   PROJECT#<projectId>             / ENV#<env>   an environment of the project
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
