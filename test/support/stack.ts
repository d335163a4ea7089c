import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createRepository } from '#core/store/repository';
import { createProject } from '#core/tenancy/projects';
import { readInbox, type DevMessage } from '../../local/inbox';
import { freePort, startLocalServices, type LocalServices } from '../../local/services';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { newLedger, recordBody, type SecretLedger } from './secret-scan';

/**
 * The whole local stack for the reliability suite, with the service as its own process (as `npm
 * start` runs it) and a fault proxy between it and each stand-in: DynamoDB Local (with its data on
 * disk, so it can be killed and restarted), the SES recorder and the local Twilio endpoint. The
 * suite talks HTTP to it on loopback, pauses and kills DynamoDB Local for real, breaks SES and
 * Twilio through the proxies, reads every log line the service printed, and scans the table.
 */

const repoRoot = new URL('../../', import.meta.url).pathname;
const TABLE = 'otpgate-reliability';

export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON, or the text when it is not JSON. */
  readonly body: any;
  readonly ms: number;
}

export interface StackProject {
  readonly projectId: string;
  readonly environment: string;
  readonly appKey: string;
  readonly keys: Readonly<Record<string, string>>;
  readonly whatsappConfigUid: string;
}

export interface Stack {
  readonly origin: string;
  readonly port: number;
  readonly proxies: { readonly dynamo: FaultProxy; readonly ses: FaultProxy; readonly twilio: FaultProxy };
  readonly services: LocalServices;
  /** Every line the service printed (its logs), in order. */
  readonly logs: string[];
  /** The stand-ins' supervisor's one-line notices. */
  readonly notices: string[];
  /** The secrets the service runs with (pepper, signing-key seed, Twilio credentials). */
  readonly secrets: Readonly<Record<string, string>>;
  /** Every secret that went through request() or project(), and the service's own: what its logs must never show. */
  readonly ledger: SecretLedger;
  project(settings?: Record<string, unknown>, environments?: string[]): Promise<StackProject>;
  request(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number }): Promise<Answer>;
  /** Every answer request() got so far, for the figures in RELIABILITY.md: how many, by status, the slowest (ms). */
  readonly tally: Tally;
  inbox(to?: string): Promise<DevMessage[]>;
  latestCode(to: string): Promise<string>;
  /** The code in the newest message that reached the SES or Twilio stand-in for `to` (E.164 or email), as seen passing the proxy: no inbox read. */
  sentCode(to: string): string | undefined;
  scan(prefix?: string): Promise<Record<string, any>[]>;
  pauseDynamo(): void;
  resumeDynamo(): void;
  /** Kills DynamoDB Local (SIGKILL) and waits until the supervisor says it is back. */
  killDynamo(): Promise<void>;
  waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface Tally {
  requests: number;
  readonly byStatus: Map<number, number>;
  worstMs: number;
}

const WHATSAPP_CONFIG = '5a706684-851f-3a27-b0d1-284155d8f862';

export const startStack = async (): Promise<Stack> => {
  const home = mkdtempSync(join(tmpdir(), 'otpgate-reliability-'));
  const notices: string[] = [];
  const services = await startLocalServices({
    dataDir: join(home, 'dynamodb'),
    secretsDir: join(home, 'secrets'),
    tableName: TABLE,
    onNotice: (line) => void notices.push(line),
    onFatal: (line) => void notices.push(`FATAL ${line}`),
  });
  const proxies = {
    dynamo: await startFaultProxy(services.dynamoUrl),
    ses: await startFaultProxy(services.sesUrl),
    twilio: await startFaultProxy(services.twilioUrl),
  };
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const logs: string[] = [];
  const child: ChildProcess = spawn(process.execPath, [join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), join(repoRoot, 'test/support/api-process.ts')], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      ...services.env,
      AWS_ENDPOINT_URL_DYNAMODB: proxies.dynamo.url,
      AWS_ENDPOINT_URL_SESV2: proxies.ses.url,
      TWILIO_API_BASE_URL: proxies.twilio.url,
      DEV_TWILIO_URL: services.twilioUrl,
      DEV_SES_URL: services.sesUrl,
      PUBLIC_BASE_URL: origin,
      DEFAULT_COUNTRY_CODE: '+91',
      LOG_LEVEL: 'info',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (stream: NodeJS.ReadableStream) => {
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      logs.push(...lines.filter((line) => line !== ''));
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);

  const waitFor = async (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`stack: ${what} did not happen within ${timeoutMs} ms\n${[...notices, ...logs.slice(-20)].join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: services.dynamoUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  );
  const stopAll = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    doc.destroy();
    await Promise.all(Object.values(proxies).map((proxy) => proxy.close()));
    await services.stop();
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await waitFor(() => logs.some((line) => line.includes('"listening"')) || child.exitCode !== null, 'the API process listening');
    if (child.exitCode !== null) throw new Error(`stack: the API process exited:\n${logs.join('\n')}`);
  } catch (error) {
    await stopAll();
    throw error;
  }

  const repo = createRepository(doc, TABLE);
  const secretsDir = join(home, 'secrets');
  const secrets = Object.fromEntries(['pepper', 'signing-key', 'twilio'].map((name) => [name, readFileSync(join(secretsDir, name), 'utf8').trim()]));
  const ledger = newLedger();
  ledger.opaque.add(secrets.pepper!);
  ledger.opaque.add(secrets['signing-key']!);
  ledger.opaque.add((JSON.parse(secrets.twilio!) as { authToken: string }).authToken);

  const tally: Tally = { requests: 0, byStatus: new Map(), worstMs: 0 };
  const request: Stack['request'] = async (method, path, options = {}) => {
    const started = performance.now();
    const headers = { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers };
    recordBody(ledger, options.body);
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (/^(app-key|x-api-key|authorization)$/i.test(name)) ledger.opaque.add(value.replace(/^Bearer\s+/i, ''));
    }
    const res = await fetch(`${origin}${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text for the test to judge
    }
    recordBody(ledger, body);
    const ms = performance.now() - started;
    tally.requests += 1;
    tally.byStatus.set(res.status, (tally.byStatus.get(res.status) ?? 0) + 1);
    tally.worstMs = Math.max(tally.worstMs, ms);
    return { status: res.status, headers: Object.fromEntries(res.headers), body, ms };
  };

  const scan = async (prefix?: string) => {
    const items: Record<string, any>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return prefix === undefined ? items : items.filter((item) => String(item.pk).startsWith(prefix));
  };

  const inbox = (to?: string) => readInbox({ twilioUrl: services.twilioUrl, sesUrl: services.sesUrl }, to);
  const sent = new Map<string, string>();
  const codeIn = (text: string) => /\b(\d{4,10})\b/.exec(text)?.[1];
  proxies.twilio.observe((req) => {
    if (req.method !== 'POST') return;
    const form = new URLSearchParams(req.body.toString('utf8'));
    const code = codeIn(form.get('Body') ?? form.get('ContentVariables') ?? '');
    const to = (form.get('To') ?? '').replace(/^whatsapp:/, '');
    if (code && to) sent.set(to, code);
  });
  proxies.ses.observe((req) => {
    if (req.method !== 'POST' || !req.path.startsWith('/v2/email/outbound-emails')) return;
    const email = JSON.parse(req.body.toString('utf8')) as { Destination?: { ToAddresses?: string[] }; Content?: { Simple?: { Body?: { Text?: { Data?: string } } } } };
    const code = codeIn(email.Content?.Simple?.Body?.Text?.Data ?? '');
    for (const to of email.Destination?.ToAddresses ?? []) if (code) sent.set(to.toLowerCase(), code);
  });
  let projects = 0;

  return {
    origin,
    port,
    proxies,
    services,
    logs,
    notices,
    secrets,
    ledger,
    async project(settings = {}, environments = ['development']) {
      projects += 1;
      const projectId = `r${projects}-${Math.random().toString(36).slice(2, 10)}`;
      const created = await createProject(repo, {
        projectId,
        environments,
        // Every request of the suite comes from 127.0.0.1: the per-IP limit would be the only one ever met.
        settings: { sendsPerIpPerHour: 0, allowedCountries: ['*'], whatsappConfigs: { [WHATSAPP_CONFIG]: { from: '+14155238886' } }, ...settings },
      });
      const keys = Object.fromEntries(created.keys.map((k) => [k.environment, k.appKey]));
      for (const key of Object.values(keys)) ledger.opaque.add(key);
      return { projectId, environment: environments[0]!, appKey: keys[environments[0]!]!, keys, whatsappConfigUid: WHATSAPP_CONFIG };
    },
    request,
    tally,
    inbox,
    async latestCode(to) {
      const [message] = await inbox(to);
      if (!message?.code) throw new Error(`no code was sent to ${to}`);
      return message.code;
    },
    sentCode: (to) => sent.get(to.toLowerCase()),
    scan,
    pauseDynamo() {
      process.kill(services.dynamoPid()!, 'SIGSTOP');
    },
    resumeDynamo() {
      process.kill(services.dynamoPid()!, 'SIGCONT');
    },
    async killDynamo() {
      const before = notices.filter((line) => line.includes('is back')).length;
      process.kill(services.dynamoPid()!, 'SIGKILL');
      await waitFor(() => notices.filter((line) => line.includes('is back')).length > before, 'DynamoDB Local restarted by the supervisor', 120_000);
    },
    waitFor,
    stop: stopAll,
  };
};

/**
 * What must hold of a project's items whatever failed on the way: every address belongs to an
 * existing user and every user to exactly one address (no duplicate, no orphan), every session
 * to an existing user, no code pending for a user who does not exist, no send held off beyond a
 * request's lifetime (stuck), no code valid for longer than codes can be. Returns what is wrong.
 */
export const tableProblems = (items: readonly Record<string, any>[], tenant: { projectId: string; environment: string }, now = Date.now()): string[] => {
  const prefix = `T#${tenant.projectId}#${tenant.environment}#`;
  const mine = items.filter((item) => String(item.pk).startsWith(prefix));
  const problems: string[] = [];
  const users = new Map(mine.filter((i) => i.sk === 'USER').map((i) => [i.userId as string, i]));
  const identities = mine.filter((i) => i.sk === 'IDENTITY');
  const owners = new Map<string, string[]>();
  for (const identity of identities) {
    const address = String(identity.pk).slice(prefix.length).replace(/^ID#(phone|email)#/, '');
    const user = users.get(identity.userId);
    if (!user) problems.push(`address ${address} belongs to user ${identity.userId}, who does not exist`);
    else if ((user.mobile ?? user.email) !== address) problems.push(`address ${address} points at user ${identity.userId} of ${user.mobile ?? user.email}`);
    owners.set(identity.userId, [...(owners.get(identity.userId) ?? []), address]);
  }
  for (const [userId, user] of users) {
    const addresses = owners.get(userId) ?? [];
    if (addresses.length === 0) problems.push(`user ${userId} (${user.mobile ?? user.email}) has no address: orphaned`);
    if (addresses.length > 1) problems.push(`user ${userId} has ${addresses.length} addresses`);
  }
  const byAddress = new Map<string, number>();
  for (const user of users.values()) byAddress.set(user.mobile ?? user.email, (byAddress.get(user.mobile ?? user.email) ?? 0) + 1);
  for (const [address, count] of byAddress) if (count > 1) problems.push(`${count} users for ${address}: duplicate`);
  for (const state of mine.filter((i) => i.sk === 'OTP')) {
    if (typeof state.userId === 'string' && !users.has(state.userId)) problems.push(`a code is pending for user ${state.userId}, who does not exist`);
    if (typeof state.sendingUntil === 'number' && state.sendingUntil > now + 10_000) problems.push(`a send is held off until ${new Date(state.sendingUntil).toISOString()}: stuck`);
    if (typeof state.expiresAt === 'number' && state.expiresAt > now + 600_000) problems.push('a code is valid for more than 10 minutes');
    if (typeof state.attempts === 'number' && state.attempts > state.maxAttempts) problems.push('a code has more attempts than allowed');
  }
  for (const token of mine.filter((i) => i.sk === 'RT')) {
    if (!users.has(token.userId)) problems.push(`a refresh token belongs to user ${token.userId}, who does not exist`);
  }
  return problems;
};
