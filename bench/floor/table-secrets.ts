import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The floor of every function that uses the table: the AWS SDK clients it builds at cold start, nothing else. */
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
const secrets = new SecretsManagerClient({});

export const handler = async () => ({ statusCode: 200, body: String(Boolean(doc) && Boolean(secrets)) });
