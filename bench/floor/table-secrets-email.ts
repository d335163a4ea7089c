import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The floor of the email functions: the table's and Secrets Manager's clients plus SES's. */
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
const secrets = new SecretsManagerClient({});
const ses = new SESv2Client({ requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 } });

export const handler = async () => ({ statusCode: 200, body: String(Boolean(doc) && Boolean(secrets) && Boolean(ses)) });
