import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import type { Context } from 'aws-lambda';
import { deadlineClient } from '#core/aws-clients';
import { withBudget } from '#core/deadline';
import { sesEmailSender } from '#core/delivery/ses-email';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { createTenantResolver } from '#core/http/route';
import { createEngine, type Sender } from '#core/otp/engine';
import { emailIdentity, phoneIdentity } from '#core/otp/identity';
import { runtime } from '#core/runtime';
import { createCounterStore } from '#core/store/counters';
import { createIdentityStore } from '#core/store/identities';
import { createRepository } from '#core/store/repository';
import { resolveSettings } from '#core/tenancy/settings';
import { jwksRoute } from '#core/tokens/discovery';
import { mobileOtpStart } from '#core/styles/mobile-email';
import { makeHandler as makeSignup } from '../../functions/mobile-otp-signup';
import { makeHandler as makeEmailSignup } from '../../functions/email-otp-signup';
import { call, event, inbox, latestCode, newTenant, uniqueEmail, uniqueIndianMobile, type Handler } from '../support/harness';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { listen } from '../../local/http-server';

/**
 * Every request has a deadline (functions/core/deadline.ts): the functions' own answer, a JSON
 * 503 with Retry-After, comes within it whatever a dependency does, and no write is started that
 * could not finish in it. Against a server that accepts and never answers (a stalled DynamoDB, a
 * hung SES), and against DynamoDB Local behind a fault proxy.
 */

/** What Lambda passes: this much time left (the functions' timeout is 10 s). */
const contextWith = (remainingMs: number): Context => {
  const until = Date.now() + remainingMs;
  return { functionName: 'test', awsRequestId: 'test', getRemainingTimeInMillis: () => until - Date.now() } as unknown as Context;
};

const callWith = async (handler: Handler, ev: Parameters<Handler>[0], remainingMs: number) => {
  const started = Date.now();
  const result = await handler(ev, contextWith(remainingMs));
  return { status: result.statusCode, headers: result.headers ?? {}, body: JSON.parse(result.body ?? 'null') as Record<string, any>, ms: Date.now() - started };
};

/** Accepts connections and reads requests, and never answers: a paused process, a black-holed route. */
let silent: Server;
let silentUrl: string;
const silentSockets = new Set<Socket>();
beforeAll(async () => {
  silent = createServer(() => undefined);
  silent.on('connection', (socket) => {
    silentSockets.add(socket);
    socket.on('close', () => silentSockets.delete(socket));
  });
  silentUrl = `http://127.0.0.1:${(await listen(silent, 0, '127.0.0.1')).port}`;
});
afterAll(async () => {
  for (const socket of silentSockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

/** The production wiring with DynamoDB at `endpoint`. */
const wiringAt = (endpoint: string) => {
  const doc = DynamoDBDocumentClient.from(deadlineClient('dynamodb', (options) => new DynamoDBClient({ ...options, endpoint })), { marshallOptions: { removeUndefinedValues: true } });
  const rt = runtime();
  const repo = createRepository(doc, rt.config.tableName);
  const identities = createIdentityStore(doc, rt.config.tableName);
  const counters = createCounterStore(doc, rt.config.tableName);
  return { doc, repo, identities, tenants: createTenantResolver(repo, '+91'), engine: createEngine({ identities, counters, pepper: rt.pepper }) };
};

describe('a DynamoDB that never answers', () => {
  test('a POST answers JSON 503 service_unavailable with Retry-After, within the budget, though the tenant lookup itself is what hangs', async () => {
    const stalled = wiringAt(silentUrl);
    const signup = mobileOtpStart('signup', { tenants: stalled.tenants, engine: stalled.engine, sender: twilioSmsSender(runtime().secrets) });
    const tenant = await newTenant();
    const res = await callWith(signup, event(tenant, { body: { mobile: uniqueIndianMobile() }, appKey: tenant.appKey }), 4_000);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: 'service_unavailable', message: expect.any(String), retry_after: expect.any(Number) } });
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.ms).toBeLessThan(4_000); // the Lambda would still be alive to return it
    stalled.doc.destroy();
  });

  test('a GET (JWKS) answers the same 503, in its time', async () => {
    const stalled = wiringAt(silentUrl);
    const rt = runtime();
    const jwks = jwksRoute({ repo: stalled.repo, verificationKeys: rt.verificationKeys, publicBaseUrl: undefined });
    const res = await callWith(jwks, event({ projectId: 'someone', environment: 'development' }, { method: 'GET' }), 3_000);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('service_unavailable');
    expect(res.ms).toBeLessThan(3_000);
    stalled.doc.destroy();
  });
});

describe('how each call is timed and retried (DynamoDB Local behind a fault proxy)', () => {
  let proxy: FaultProxy;
  let doc: DynamoDBDocumentClient;
  const table = () => runtime().config.tableName;
  beforeAll(async () => {
    proxy = await startFaultProxy(process.env.AWS_ENDPOINT_URL_DYNAMODB!);
    doc = DynamoDBDocumentClient.from(deadlineClient('dynamodb', (options) => new DynamoDBClient({ ...options, endpoint: proxy.url })));
  });
  afterAll(async () => {
    doc.destroy();
    await proxy.close();
  });
  afterEach(() => proxy.heal());

  const failing = (times: number) => proxy.inject({ fault: { kind: 'fail', status: 500, contentType: 'application/x-amz-json-1.0', body: JSON.stringify({ __type: 'com.amazon.coral.service#InternalFailure' }) }, times });
  const attempts = async (send: () => Promise<unknown>) => {
    const before = proxy.stats.requests;
    await withBudget(10_000, send).catch(() => undefined);
    return proxy.stats.requests - before;
  };
  const key = { pk: 'DEADLINE#test', sk: 'X' };

  test('a read that fails is tried again', async () => {
    failing(2);
    expect(await attempts(() => doc.send(new GetCommand({ TableName: table(), Key: key })))).toBe(3);
  });

  test('a single write whose answer was lost is not repeated blindly (it may have landed)', async () => {
    failing(1);
    expect(await attempts(() => doc.send(new UpdateCommand({ TableName: table(), Key: key, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } })))).toBe(1);
  });

  test('a transaction is repeated (its idempotency token makes a repeat of an applied one a no-op)', async () => {
    failing(1);
    const put = { Update: { TableName: table(), Key: key, UpdateExpression: 'ADD t :one', ExpressionAttributeValues: { ':one': 1 } } };
    expect(await attempts(() => doc.send(new TransactWriteCommand({ TransactItems: [put] })))).toBe(2);
  });

  test('no write starts with less time left than it needs, and nothing reaches DynamoDB', async () => {
    const before = proxy.stats.requests;
    const write = withBudget(1_000 + 300, () => doc.send(new UpdateCommand({ TableName: table(), Key: key, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } })));
    await expect(write).rejects.toMatchObject({ name: 'OutOfTimeError' });
    expect(proxy.stats.requests).toBe(before);
  });
});

describe('sending', () => {
  test('an SES that never answers is given up on in time (its requestTimeout really aborts), and the signup is a 503 that a retry completes', async () => {
    const rt = runtime();
    const stalledSes = sesEmailSender(deadlineClient('ses', (options) => new SESv2Client({ ...options, endpoint: silentUrl })), 'no-reply@otpgate.local');
    const email = uniqueEmail();
    const tenant = await newTenant();
    const hung = await callWith(makeEmailSignup({ ...rt, sender: stalledSes }), event(tenant, { body: { email }, appKey: tenant.appKey }), 10_000);
    expect(hung.status).toBe(503);
    expect(hung.body.error.code).toBe('service_unavailable');
    expect(hung.ms).toBeLessThan(10_000);
    // The call was really given up on before the answer, not left running: its undo has already run
    // (no user half-registered, no code pending that a late failure would take back from under a new one).
    expect(await rt.identities.findOwner(tenant, emailIdentity(email))).toBeUndefined();
    expect((await rt.identities.readState(tenant, emailIdentity(email))).code).toBeUndefined();
    // After recovery the same signup completes: not "already registered".
    const again = await call(makeEmailSignup({ ...rt, sender: sesEmailSender(deadlineClient('ses', (o) => new SESv2Client(o)), 'no-reply@otpgate.local') }), event(tenant, { body: { email }, appKey: tenant.appKey }));
    expect(again.status).toBe(201);
    expect(await inbox(email)).toHaveLength(1);
  });

  test('no code is stored unless there is time to send it and take it back: a 503, nothing stored, nothing sent', async () => {
    const rt = runtime();
    const tenant = await newTenant();
    const mobile = uniqueIndianMobile();
    // 2.5 s left at the start: the lookups fit, storing and sending a code (2 s more, past the 1 s answer margin) does not.
    const res = await callWith(makeSignup({ ...rt, sender: twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl }) }), event(tenant, { body: { mobile }, appKey: tenant.appKey }), 2_500);
    expect(res.status).toBe(503);
    expect(await rt.identities.findOwner(tenant, phoneIdentity(`+91${mobile}`))).toBeUndefined();
    expect((await rt.identities.readState(tenant, phoneIdentity(`+91${mobile}`))).code).toBeUndefined();
    expect(await inbox(`+91${mobile}`)).toEqual([]);
  });
});

describe('undo steps are conditional on the state they undo', () => {
  test('a signup whose delivery fails after the user verified the code does not delete the user', async () => {
    const rt = runtime();
    const engine = createEngine({ identities: rt.identities, counters: rt.counters, pepper: rt.pepper });
    const created = await newTenant();
    const tenant = { projectId: created.projectId, environment: created.environment, settings: resolveSettings({ allowedCountries: ['*'], resendCooldownSeconds: 0 }, '+91') };
    const identity = phoneIdentity(`+91${uniqueIndianMobile()}`);
    // The message reached the user, who verified at once; then the provider's answer was an error (a late timeout).
    const sender: Sender = {
      channel: 'sms',
      send: async (message) => {
        await engine.verify(tenant, identity, message.code);
        throw Object.assign(new Error('provider timed out'), { code: 'ETIMEDOUT' });
      },
    };
    await expect(engine.signup(tenant, identity, sender)).rejects.toMatchObject({ status: 503 });
    expect(await rt.identities.findOwner(tenant, identity)).toEqual({ userId: expect.any(String), verified: true });
    // A verified user is a real 409 for signup, and logs in.
    const sms = twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl });
    await expect(engine.signup(tenant, identity, sms)).rejects.toMatchObject({ code: 'user_exists' });
    await expect(engine.login(tenant, identity, sms)).resolves.toMatchObject({ userId: expect.any(String) });
    expect(await latestCode(identity.address)).toMatch(/^\d{6}$/);
  });

  test('a resend whose delivery fails gives back the cooldown along with the old code: the retry is not told "sent moments ago"', async () => {
    const rt = runtime();
    const tenant = await newTenant({ limits: 'defaults', settings: { sendsPerIpPerHour: 0 } });
    const mobile = uniqueIndianMobile();
    const failing: Sender = { channel: 'sms', send: async () => Promise.reject(Object.assign(new Error('refused'), { status: 400, code: 21610 })) };
    const failingSignup = makeSignup({ ...rt, sender: failing });
    expect((await call(failingSignup, event(tenant, { body: { mobile }, appKey: tenant.appKey }))).status).toBe(502);
    const retried = await call(makeSignup({ ...rt, sender: twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl }) }), event(tenant, { body: { mobile }, appKey: tenant.appKey }));
    expect(retried.status).toBe(201);
  });
});
