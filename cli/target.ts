import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createIdentityStore, type IdentityStore } from '#core/store/identities';
import { createRepository, type Repository } from '#core/store/repository';
import { fileSigningSecretStore, requestSigningKeyRotation } from '#core/tokens/signing-key-rotation';
import { rotateSigningKey } from '#core/tokens/signing-keys';
import { LOCAL_STACK_FILE, otpgateHome, readLocalStackFile } from '#local/stack-file';
import { CliError } from './errors';
import { fileProjectSecrets, secretsManagerProjectSecrets, type ProjectSecretStore } from './project-secrets';

/**
 * Which otpgate the command works on. With no flags, the local stack `npm start` recorded in
 * .otp-local/local.json; with --stack, a deployed stack found by its CloudFormation outputs with
 * the usual AWS credentials and region; with --table, a table named directly.
 */
export interface Target {
  /** For messages: "the local stack (table otpgate-local)". */
  readonly description: string;
  readonly repo: Repository;
  /** The API's origin, to print base URLs; unknown with --table. */
  readonly apiUrl?: string | undefined;
  /** Where projects' own secrets go; undefined with --table (the stack's prefix is unknown). */
  readonly secrets?: ProjectSecretStore | undefined;
  /** Users' identifiers and their codes and limits, for operator commands (unlock, remove). */
  readonly identities: IdentityStore;
  /**
   * Rotates the token signing key: locally in the secrets folder, on a stack by asking Secrets
   * Manager to run the stack's rotation function; undefined with --table.
   */
  readonly rotateSigningKey?: ((options: { force: boolean; activateNow: boolean }) => Promise<{ activatesAt?: Date }>) | undefined;
  readonly close: () => void;
}

export interface Where {
  readonly stack?: string | undefined;
  readonly region?: string | undefined;
  readonly table?: string | undefined;
  readonly localConfig?: string | undefined;
}

/** The package root: .otp-local lives here (npm start runs in it), and cdk.json names the stack. */
export const packageRoot = fileURLToPath(new URL('..', import.meta.url));

/** The stack `--stack` means without a name: cdk.json's otpgate:stackName, as the CDK app uses it, else OtpGate. */
export const defaultStackName = (): string => {
  try {
    const cdk = JSON.parse(readFileSync(join(packageRoot, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
    const name = cdk.context?.['otpgate:stackName'];
    return typeof name === 'string' && name.trim() !== '' ? name.trim() : 'OtpGate';
  } catch {
    return 'OtpGate';
  }
};

const documentClient = (client: DynamoDBClient) => DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });

const notRunning = (detail: string) =>
  new CliError(`the local stack is not running (${detail}): start it with \`npm start\`, or use --stack <name> for a deployed stack`);

const errorName = (error: unknown): string => (error as { name?: string } | null)?.name ?? '';
const errorCode = (error: unknown): string | undefined => (error as { code?: string } | null)?.code;

export const connectLocal = async (file: string): Promise<Target> => {
  const info = readLocalStackFile(file);
  if (!info) throw notRunning(`no ${file}`);
  const client = new DynamoDBClient({
    endpoint: info.dynamoEndpoint,
    region: info.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 },
  });
  try {
    await client.send(new DescribeTableCommand({ TableName: info.tableName }));
  } catch (error) {
    client.destroy();
    if (errorName(error) === 'ResourceNotFoundException') {
      throw new CliError(`the local stack has no table ${info.tableName}: restart it with \`npm start\``);
    }
    throw notRunning(`nothing answers at ${info.dynamoEndpoint}`);
  }
  return {
    description: `the local stack (table ${info.tableName})`,
    repo: createRepository(documentClient(client), info.tableName),
    identities: createIdentityStore(documentClient(client), info.tableName),
    apiUrl: info.apiUrl,
    secrets: fileProjectSecrets(info.secretsDir),
    rotateSigningKey: async ({ force, activateNow }) =>
      rotateSigningKey(fileSigningSecretStore(info.secretsDir), { force, ...(activateNow ? { activationDelaySeconds: 0 } : {}) }),
    close: () => client.destroy(),
  };
};

const REGION_HELP =
  'no AWS region is set: set AWS_REGION (e.g. export AWS_REGION=eu-west-1), use a profile that has one (AWS_PROFILE), or pass --region';
const CREDENTIALS_HELP =
  'no AWS credentials found: set AWS_PROFILE (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';

/** Checks region and credentials up front, so the SDK's "Region is missing" never reaches the operator. */
const awsClientConfig = async (region: string | undefined) => {
  const probe = new CloudFormationClient(region === undefined ? {} : { region });
  let resolvedRegion: string;
  try {
    resolvedRegion = await probe.config.region();
  } catch {
    probe.destroy();
    throw new CliError(REGION_HELP);
  }
  if (!resolvedRegion) throw new CliError(REGION_HELP);
  try {
    await probe.config.credentials();
  } catch (error) {
    probe.destroy();
    const detail = error instanceof Error && !/could not load credentials from any providers/i.test(error.message) ? ` (${error.message})` : '';
    throw new CliError(`${CREDENTIALS_HELP}${detail}`);
  }
  return { cloudFormation: probe, config: { region: resolvedRegion, credentials: probe.config.credentials } };
};

const describeAwsFailure = (error: unknown, what: string): CliError => {
  const name = errorName(error);
  const message = error instanceof Error ? error.message : String(error);
  if (/ExpiredToken|TokenRefreshRequired/.test(name)) return new CliError('your AWS credentials have expired: refresh them (e.g. `aws sso login`) and try again');
  if (/AccessDenied|UnrecognizedClient|InvalidClientTokenId|SignatureDoesNotMatch/.test(name)) return new CliError(`AWS refused to ${what}: ${message}`);
  if (['ENOTFOUND', 'ECONNREFUSED', 'ETIMEDOUT', 'EAI_AGAIN'].includes(errorCode(error) ?? '')) return new CliError(`could not reach AWS to ${what} (${errorCode(error)})`);
  return new CliError(`could not ${what}: ${message}`);
};

/** What the CLI needs from a stack's outputs; older stacks without ProjectSecretPrefix get the name the stack would use. */
export const fromStackOutputs = (stackName: string, outputs: readonly Output[]) => {
  const output = (key: string) => outputs.find((o) => o.OutputKey === key)?.OutputValue;
  const tableName = output('TableName');
  if (!tableName) throw new CliError(`stack ${stackName} has no TableName output: is it an otpgate stack? Deploy it with \`npx cdk deploy\``);
  return {
    tableName,
    apiUrl: output('ApiUrl')?.replace(/\/+$/, ''),
    secretPrefix: output('ProjectSecretPrefix') ?? `otpgate/${stackName}/`,
    signingKeySecretArn: output('SigningKeySecretArn'),
  };
};

export const connectStack = async (stackName: string, region: string | undefined): Promise<Target> => {
  const { cloudFormation, config } = await awsClientConfig(region);
  let outputs: Output[];
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    if (errorName(error) === 'ValidationError' && /does not exist/.test((error as Error).message)) {
      throw new CliError(`there is no stack ${stackName} in ${config.region}: deploy it with \`npx cdk deploy\`, or name yours with --stack <name> (and its region with AWS_REGION)`);
    }
    throw describeAwsFailure(error, `read stack ${stackName}`);
  } finally {
    cloudFormation.destroy();
  }
  const stack = fromStackOutputs(stackName, outputs);
  const dynamo = new DynamoDBClient(config);
  const secretsManager = new SecretsManagerClient(config);
  return {
    description: `stack ${stackName} in ${config.region} (table ${stack.tableName})`,
    repo: createRepository(documentClient(dynamo), stack.tableName),
    identities: createIdentityStore(documentClient(dynamo), stack.tableName),
    apiUrl: stack.apiUrl,
    secrets: secretsManagerProjectSecrets(secretsManager, stack.secretPrefix),
    rotateSigningKey:
      stack.signingKeySecretArn === undefined
        ? undefined
        : async () => {
            await requestSigningKeyRotation(secretsManager, stack.signingKeySecretArn!);
            return {};
          },
    close: () => {
      dynamo.destroy();
      secretsManager.destroy();
    },
  };
};

export const connectTable = async (tableName: string, region: string | undefined): Promise<Target> => {
  // An endpoint override (AWS_ENDPOINT_URL_DYNAMODB, e.g. DynamoDB Local) needs no real credentials check.
  const config = process.env.AWS_ENDPOINT_URL_DYNAMODB ? (region === undefined ? {} : { region }) : (await awsClientConfig(region)).config;
  const dynamo = new DynamoDBClient(config);
  return {
    description: `table ${tableName}`,
    repo: createRepository(documentClient(dynamo), tableName),
    identities: createIdentityStore(documentClient(dynamo), tableName),
    close: () => dynamo.destroy(),
  };
};

export const connect = (where: Where, env: Readonly<Record<string, string | undefined>> = process.env): Promise<Target> => {
  if (where.table !== undefined) return connectTable(where.table, where.region);
  const stack = where.stack ?? env.OTPGATE_STACK;
  if (stack !== undefined && stack !== '') return connectStack(stack, where.region);
  return connectLocal(where.localConfig ?? join(otpgateHome(packageRoot, env), LOCAL_STACK_FILE));
};
