import { Tracer } from '@aws-lambda-powertools/tracer';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The table floor with the X-Ray tracer as the stack deploys it (OTPGATE_TRACING=active): the same
 * clients, captured by Powertools Tracer. Against the plain floor it prices the tracer alone.
 */
const tracer = new Tracer({ serviceName: 'otpgate-bench' });
const doc = DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({})), { marshallOptions: { removeUndefinedValues: true } });
const secrets = tracer.captureAWSv3Client(new SecretsManagerClient({}));

export const handler = async () => ({ statusCode: 200, body: String(Boolean(doc) && Boolean(secrets)) });
