import { createHash, createPublicKey } from 'node:crypto';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { jest } from '@jest/globals';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { runtime } from '#core/runtime';
import { createSessionStore } from '#core/store/sessions';
import { issueAccessToken, type SigningKey } from '#core/tokens/access-tokens';
import { createSessions } from '#core/tokens/sessions';
import { handler as signup } from '../../functions/mobile-otp-signup';
import { handler as login } from '../../functions/mobile-otp-login';
import { handler as verify } from '../../functions/mobile-otp-verify';
import { handler as emailSignup } from '../../functions/email-otp-signup';
import { handler as emailVerify } from '../../functions/email-otp-verify';
import { handler as refresh, makeHandler as makeRefresh } from '../../functions/token-refresh';
import { handler as logout, makeHandler as makeLogout } from '../../functions/logout';
import { handler as jwks } from '../../functions/jwks';
import { call, event, latestCode, newTenant, uniqueEmail, uniqueIndianMobile, type Handler, type TestTenant } from '../support/harness';

/**
 * Sessions end to end through the HTTP handlers and DynamoDB Local: verify returns a refresh
 * token, refresh rotates it, a reused token kills the session, logout revokes one or all sessions,
 * and logout checks its access token as strictly as a relying party must.
 */

let tenant: TestTenant;
beforeAll(async () => {
  tenant = await newTenant({ environments: ['development', 'production'] });
});

type Target = { projectId: string; environment: string; appKey: string };

const post = (handler: Handler, body: unknown, t: Target = tenant, headers: Record<string, string> = {}) =>
  call(handler, event(t, { body, appKey: t.appKey, headers }));
const refreshWith = (token: unknown, t: Target = tenant, handler: Handler = refresh) => post(handler, { refresh_token: token }, t);
const logoutWith = (accessToken: string | undefined, body: unknown = {}, t: Target = tenant, handler: Handler = logout) =>
  post(handler, body, t, accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` });

const issuer = (t: { projectId: string; environment: string } = tenant) => `https://otpgate.test/auth/${t.projectId}/${t.environment}`;

/** Signs up a new number (or signs in an existing one again) and verifies: one new session. */
const signIn = async (t: Target = tenant, mobile = uniqueIndianMobile()) => {
  const started = await post(signup, { country_code: '+91', mobile }, t);
  if (started.status === 409) expect((await post(login, { mobile }, t)).status).toBe(200);
  const res = await post(verify, { mobile, otp_code: await latestCode(`+91${mobile}`) }, t);
  expect(res.status).toBe(200);
  return { mobile, ...(res.body as { user_id: string; access_token: string; refresh_token: string; expires_in: number; refresh_expires_in: number }) };
};

const expectRefused = (res: { status: number; body: Record<string, any> }) => {
  expect(res.status).toBe(401);
  expect(res.body.error.code).toBe('invalid_refresh_token');
};

const expectUnauthorised = (res: { status: number; body: Record<string, any> }, code = 'invalid_access_token') => {
  expect(res.status).toBe(401);
  expect(res.body.error.code).toBe(code);
};

const jwksOf = async (t: { projectId: string; environment: string } = tenant) =>
  createLocalJWKSet((await call(jwks, event(t, { method: 'GET' }))).body as never);

describe('verify starts a session', () => {
  test('mobile verify returns an opaque 256-bit refresh token valid 30 days, and the access token names its session', async () => {
    const session = await signIn();
    expect(session.refresh_token).toMatch(/^ogr_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(session.refresh_token.slice(4), 'base64url')).toHaveLength(32);
    expect(session.refresh_expires_in).toBe(30 * 86_400);
    const { payload } = await jwtVerify(session.access_token, await jwksOf(), { issuer: issuer(), audience: tenant.projectId });
    expect(payload.sid).toEqual(expect.any(String));
    expect(payload.sub).toBe(session.user_id);
  });

  test('email verify returns one too', async () => {
    const email = uniqueEmail();
    await post(emailSignup, { email });
    const res = await post(emailVerify, { email, otp_code: await latestCode(email) });
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).toMatch(/^ogr_/);
    expect((await refreshWith(res.body.refresh_token)).body.access_token).toEqual(expect.any(String));
  });

  test('the refresh token is stored only as its SHA-256, under the tenant, with a TTL', async () => {
    const session = await signIn();
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const hash = createHash('sha256').update(session.refresh_token).digest('hex');
    const { Item } = await doc.send(new GetCommand({ TableName: process.env.TABLE_NAME!, Key: { pk: `T#${tenant.projectId}#development#RT#${hash}`, sk: 'RT' } }));
    expect(Item).toMatchObject({ userId: session.user_id, familyId: decodeJwt(session.access_token).sid, ttl: expect.any(Number) });
    const { Items = [] } = await doc.send(new ScanCommand({ TableName: process.env.TABLE_NAME! }));
    const text = JSON.stringify(Items.map((item) => unmarshall(item)));
    expect(text).not.toContain(session.refresh_token);
    expect(text).not.toContain(session.refresh_token.slice(4));
    doc.destroy();
  });

  test('a sign-in writes exactly one session item', async () => {
    const client = new DynamoDBClient({});
    const count = async () =>
      (await client.send(new ScanCommand({ TableName: process.env.TABLE_NAME!, FilterExpression: 'begins_with(pk, :p) AND sk = :rt', ExpressionAttributeValues: { ':p': { S: `T#${tenant.projectId}#production#` }, ':rt': { S: 'RT' } } }))).Count;
    const prod = { projectId: tenant.projectId, environment: 'production', appKey: tenant.keys.production! };
    const before = await count();
    await signIn(prod);
    expect(await count()).toBe((before ?? 0) + 1);
    client.destroy();
  });
});

describe('refresh', () => {
  test('verify -> refresh -> refresh rotates; reusing the first token kills the session, newest token included', async () => {
    const session = await signIn();
    const sid = decodeJwt(session.access_token).sid;

    const first = await refreshWith(session.refresh_token);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      user_id: session.user_id,
      access_token: expect.any(String),
      token_type: 'bearer',
      expires_in: 3600,
      refresh_token: expect.stringMatching(/^ogr_/),
      refresh_expires_in: 30 * 86_400,
    });
    expect(first.body.refresh_token).not.toBe(session.refresh_token);
    const { payload } = await jwtVerify(first.body.access_token, await jwksOf(), { issuer: issuer(), audience: tenant.projectId });
    expect(payload).toMatchObject({ sub: session.user_id, sid, phone_number: `+91${session.mobile}`, token_use: 'access' });

    const second = await refreshWith(first.body.refresh_token);
    expect(second.status).toBe(200);

    expectRefused(await refreshWith(session.refresh_token)); // reuse of a rotated token
    expectRefused(await refreshWith(second.body.refresh_token)); // the session is dead
    expectRefused(await refreshWith(first.body.refresh_token));
  });

  test('of 20 concurrent refreshes with one token exactly one gets new tokens; the rest are reuse, which revokes the session', async () => {
    const session = await signIn();
    const results = await Promise.all(Array.from({ length: 20 }, () => refreshWith(session.refresh_token)));
    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    for (const loser of results.filter((r) => r.status !== 200)) expectRefused(loser);
    // Two holders of one token: nobody can tell the thief, so the winner's new token dies with the session too.
    expectRefused(await refreshWith(winners[0]!.body.refresh_token));
  });

  test('a refresh token is bound to its project and environment', async () => {
    const session = await signIn();
    const other = await newTenant();
    expectRefused(await refreshWith(session.refresh_token, other));
    expectRefused(await refreshWith(session.refresh_token, { projectId: tenant.projectId, environment: 'production', appKey: tenant.keys.production! }));
    // Refused elsewhere is not "used": it still works where it belongs.
    expect((await refreshWith(session.refresh_token)).status).toBe(200);
  });

  test('unknown, malformed and missing tokens are refused; no APP-KEY is 401 missing_app_key', async () => {
    expectRefused(await refreshWith(`ogr_${'A'.repeat(43)}`));
    expectRefused(await refreshWith('not-a-token'));
    expectRefused(await refreshWith('x'.repeat(400)));
    const missing = await post(refresh, {});
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: 'invalid_request', field: 'refresh_token' });
    const huge = await refreshWith('x'.repeat(5000));
    expect(huge.status).toBe(400);
    expect((await refreshWith(12345)).status).toBe(400);
    const noKey = await call(refresh, event(tenant, { body: { refresh_token: `ogr_${'A'.repeat(43)}` } }));
    expect(noKey.status).toBe(401);
    expect(noKey.body.error.code).toBe('missing_app_key');
  });

  test("a refresh token expires after the project's refreshTokenTtlSeconds", async () => {
    const shortLived = await newTenant({ settings: { refreshTokenTtlSeconds: 3600 } });
    const session = await signIn(shortLived);
    expect(session.refresh_expires_in).toBe(3600);
    const rt = runtime();
    const store = createSessionStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), rt.config.tableName);
    const at = (offsetMs: number) => makeRefresh({ ...rt, publicBaseUrl: undefined, sessions: createSessions({ store, now: () => Date.now() + offsetMs }) });
    expectRefused(await refreshWith(session.refresh_token, shortLived, at(3_601_000)));
    expect((await refreshWith(session.refresh_token, shortLived, at(3_590_000))).status).toBe(200);
  });

  test('a session ends sessionMaxLifetimeSeconds after its sign-in however often it is refreshed; the last refresh token ends with it', async () => {
    const DAY = 86_400_000;
    // Refresh tokens of 30 days, sessions of 45: refreshed on days 10 and 35, the session still ends on day 45.
    const capped = await newTenant({ settings: { refreshTokenTtlSeconds: 30 * 86_400, sessionMaxLifetimeSeconds: 45 * 86_400 } });
    const rt = runtime();
    const store = createSessionStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), rt.config.tableName);
    const started = Date.now();
    const session = await signIn(capped);
    const at = (offsetMs: number) => makeRefresh({ ...rt, publicBaseUrl: undefined, sessions: createSessions({ store, now: () => started + offsetMs }) });
    const day10 = await refreshWith(session.refresh_token, capped, at(10 * DAY));
    expect(day10.status).toBe(200);
    expect(day10.body.refresh_expires_in).toBe(30 * 86_400);
    const day35 = await refreshWith(day10.body.refresh_token, capped, at(35 * DAY));
    expect(day35.status).toBe(200);
    // 10 days left of the session (and the seconds the sign-in took after `started`), not 30.
    expect(day35.body.refresh_expires_in).toBeGreaterThanOrEqual(10 * 86_400);
    expect(day35.body.refresh_expires_in).toBeLessThan(10 * 86_400 + 600);
    // Day 45 and ten minutes: the newest token is unused and 10 days old, but the session is over.
    expectRefused(await refreshWith(day35.body.refresh_token, capped, at(45 * DAY + 600_000)));
  });

  test('refreshed every 29 days with the default settings, a session still ends 90 days after its sign-in (ASVS 5 7.3.2)', async () => {
    const DAY = 86_400_000;
    const rt = runtime();
    const store = createSessionStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), rt.config.tableName);
    const started = Date.now();
    const session = await signIn();
    let token = session.refresh_token;
    const statuses: number[] = [];
    for (let i = 1; i <= 4; i += 1) {
      const handler = makeRefresh({ ...rt, publicBaseUrl: undefined, sessions: createSessions({ store, now: () => started + i * 29 * DAY }) });
      const res = await refreshWith(token, tenant, handler);
      statuses.push(res.status);
      if (res.status !== 200) break;
      token = res.body.refresh_token;
    }
    // Days 29, 58 and 87 refresh; day 116 is past the 90-day end.
    expect(statuses).toEqual([200, 200, 200, 401]);
  });

  test('a signing key that cannot be loaded does not use up the refresh token', async () => {
    const session = await signIn();
    const rt = runtime();
    const keyOutage = makeRefresh({ ...rt, publicBaseUrl: undefined, signingKey: async () => Promise.reject(new Error('ThrottlingException')) });
    expect((await refreshWith(session.refresh_token, tenant, keyOutage)).status).toBe(500);
    expect((await refreshWith(session.refresh_token)).status).toBe(200);
  });

  test('refresh, reuse and logout are logged for operators without any token', async () => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
    const out = jest.spyOn(console, 'log').mockImplementation(capture);
    const err = jest.spyOn(console, 'error').mockImplementation(capture);
    const level = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'info';
    try {
      const session = await signIn();
      const next = await refreshWith(session.refresh_token);
      await refreshWith(session.refresh_token);
      await logoutWith(next.body.access_token);
      const text = lines.join('\n');
      expect(text).toContain('"message":"session refreshed"');
      expect(text).toContain('"message":"refresh token reused; session revoked"');
      expect(text).toContain('"message":"session revoked"');
      expect(text).toContain(`"sessionId":"${decodeJwt(session.access_token).sid as string}"`);
      for (const secret of [session.refresh_token, next.body.refresh_token as string, session.access_token]) expect(text).not.toContain(secret);
    } finally {
      process.env.LOG_LEVEL = level;
      out.mockRestore();
      err.mockRestore();
    }
  });
});

describe('refresh racing logout', () => {
  /**
   * A refresh that has read its token and session (not revoked) and is about to rotate the token
   * when a logout of that session finishes: the store's rotation is held until logout has answered.
   */
  const raceRefreshWithLogout = async (all: boolean) => {
    const session = await signIn();
    const rt = runtime();
    const real = createSessionStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), rt.config.tableName);
    let logoutDone!: () => void;
    const loggedOutSignal = new Promise<void>((resolve) => (logoutDone = resolve));
    let reachedRotation!: () => void;
    const atRotation = new Promise<void>((resolve) => (reachedRotation = resolve));
    const store = {
      ...real,
      markRotated: async (...args: Parameters<typeof real.markRotated>) => {
        reachedRotation();
        await loggedOutSignal;
        return real.markRotated(...args);
      },
    };
    const racing = makeRefresh({ ...rt, publicBaseUrl: undefined, sessions: createSessions({ store }) });
    const refreshing = refreshWith(session.refresh_token, tenant, racing);
    await atRotation;
    const loggedOut = await logoutWith(session.access_token, all ? { all: true } : {});
    logoutDone();
    return { session, loggedOut, refreshed: await refreshing };
  };

  test.each([
    ['logout of this session', false],
    ['logout everywhere', true],
  ])('a refresh still in flight when %s returns answers 401 and mints no token', async (_name, all) => {
    const { session, loggedOut, refreshed } = await raceRefreshWithLogout(all);
    expect(loggedOut.status).toBe(200);
    expectRefused(refreshed);
    expect(refreshed.body.access_token).toBeUndefined();
    // The presented token was not used up by the refused refresh, and still cannot refresh.
    expectRefused(await refreshWith(session.refresh_token));
  });

  test('without a logout the same held refresh goes through: the hold alone changes nothing', async () => {
    const session = await signIn();
    const rt = runtime();
    const real = createSessionStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), rt.config.tableName);
    const held = makeRefresh({ ...rt, publicBaseUrl: undefined, sessions: createSessions({ store: { ...real, markRotated: async (...args: Parameters<typeof real.markRotated>) => real.markRotated(...args) } }) });
    const res = await refreshWith(session.refresh_token, tenant, held);
    expect(res.status).toBe(200);
    expect((await refreshWith(res.body.refresh_token)).status).toBe(200);
  });
});

describe('logout', () => {
  test('revokes the session of the access token, and only that one', async () => {
    const mobile = uniqueIndianMobile();
    const phone = await signIn(tenant, mobile);
    const laptop = await signIn(tenant, mobile);
    expect(decodeJwt(phone.access_token).sid).not.toBe(decodeJwt(laptop.access_token).sid);

    const res = await logoutWith(phone.access_token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ logged_out: true, sessions: 'current' });
    expectRefused(await refreshWith(phone.refresh_token));
    expect((await refreshWith(laptop.refresh_token)).status).toBe(200);
  });

  test('revokes a session also after its token was rotated, and accepts an empty body', async () => {
    const session = await signIn();
    const rotated = await refreshWith(session.refresh_token);
    const res = await call(logout, event(tenant, { appKey: tenant.appKey, headers: { authorization: `Bearer ${rotated.body.access_token}` } }));
    expect(res.status).toBe(200);
    expectRefused(await refreshWith(rotated.body.refresh_token));
  });

  test('all:true revokes every session of the user and none of another user', async () => {
    const mobile = uniqueIndianMobile();
    const first = await signIn(tenant, mobile);
    const second = await signIn(tenant, mobile);
    const secondRotated = await refreshWith(second.refresh_token);
    const someoneElse = await signIn();

    const res = await logoutWith(first.access_token, { all: true });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ logged_out: true, sessions: 'all' });
    expectRefused(await refreshWith(first.refresh_token));
    expectRefused(await refreshWith(secondRotated.body.refresh_token));
    expect((await refreshWith(someoneElse.refresh_token)).status).toBe(200);

    // Signing in again afterwards starts a session that works.
    const again = await signIn(tenant, mobile);
    expect((await refreshWith(again.refresh_token)).status).toBe(200);
  });

  test('a body that is not {"all": boolean} is 400', async () => {
    const session = await signIn();
    const res = await logoutWith(session.access_token, { all: 'yes' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', field: 'all' });
    expect((await refreshWith(session.refresh_token)).status).toBe(200);
  });

  describe('checks the access token strictly', () => {
    let session: Awaited<ReturnType<typeof signIn>>;
    let key: SigningKey;
    const now = () => Math.floor(Date.now() / 1000);
    const claims = () => ({ phone_number: `+91${session.mobile}` });
    /** A token signed with the tenant's real key, so only the one thing under test is wrong. */
    const signed = (overrides: { issuer?: string; projectId?: string; nowSeconds?: number; ttlSeconds?: number; kid?: string } = {}) =>
      issueAccessToken(overrides.kid ? { ...key, kid: overrides.kid } : key, {
        issuer: overrides.issuer ?? issuer(),
        projectId: overrides.projectId ?? tenant.projectId,
        environment: 'development',
        userId: session.user_id,
        ttlSeconds: overrides.ttlSeconds ?? 3600,
        nowSeconds: overrides.nowSeconds ?? now(),
        claims: claims(),
        sessionId: decodeJwt(session.access_token).sid as string,
      });

    beforeAll(async () => {
      session = await signIn();
      key = await runtime().signingKey(tenant);
    });

    afterAll(async () => {
      // None of the refused logouts revoked anything.
      expect((await refreshWith(session.refresh_token)).status).toBe(200);
    });

    test('the control: a correctly made token is accepted', async () => {
      const control = await signIn();
      const forged = await issueAccessToken(key, {
        issuer: issuer(),
        projectId: tenant.projectId,
        environment: 'development',
        userId: control.user_id,
        ttlSeconds: 60,
        nowSeconds: now(),
        claims: {},
        sessionId: decodeJwt(control.access_token).sid as string,
      });
      expect((await logoutWith(forged)).status).toBe(200);
      expectRefused(await refreshWith(control.refresh_token));
    });

    test('no Authorization header is 401 missing_access_token; another scheme or garbage is invalid_access_token', async () => {
      expectUnauthorised(await logoutWith(undefined), 'missing_access_token');
      expectUnauthorised(await post(logout, {}, tenant, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }));
      expectUnauthorised(await logoutWith('not.a.jwt'));
    });

    test('alg none is refused', async () => {
      const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      const body = Buffer.from(JSON.stringify(decodeJwt(await signed()))).toString('base64url');
      expectUnauthorised(await logoutWith(`${header}.${body}.`));
    });

    test('HS256 signed with the public key as the secret is refused', async () => {
      const publicPem = createPublicKey({ key: key.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      for (const secret of [Buffer.from(publicPem), Buffer.from(JSON.stringify(key.publicJwk))]) {
        const token = await new SignJWT(decodeJwt(await signed())).setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'JWT' }).sign(secret);
        expectUnauthorised(await logoutWith(token));
      }
    });

    test('a wrong issuer or audience is refused', async () => {
      expectUnauthorised(await logoutWith(await signed({ issuer: 'https://evil.example/auth/x/development' })));
      expectUnauthorised(await logoutWith(await signed({ issuer: issuer({ projectId: tenant.projectId, environment: 'production' }) })));
      expectUnauthorised(await logoutWith(await signed({ projectId: 'another-project' })));
    });

    test('an expired token is refused', async () => {
      expectUnauthorised(await logoutWith(await signed({ nowSeconds: now() - 7200, ttlSeconds: 3600 })));
    });

    test('an unknown kid is refused', async () => {
      expectUnauthorised(await logoutWith(await signed({ kid: 'not-a-published-kid' })));
    });

    test("a real token of another project or of another environment is refused", async () => {
      const other = await newTenant();
      const foreign = await signIn(other);
      expectUnauthorised(await logoutWith(foreign.access_token));
      const prod = { projectId: tenant.projectId, environment: 'production', appKey: tenant.keys.production! };
      const production = await signIn(prod);
      expectUnauthorised(await logoutWith(production.access_token));
      expect(decodeProtectedHeader(production.access_token).kid).not.toBe(key.kid);
      // And the other way round: a development token at production's logout.
      expectUnauthorised(await logoutWith(session.access_token, {}, prod));
      expect((await refreshWith(foreign.refresh_token, other)).status).toBe(200);
    });

    test('a token whose only fault is its age is accepted by a clock from when it was valid', async () => {
      const probe = await signIn();
      const token = await issueAccessToken(key, {
        issuer: issuer(),
        projectId: tenant.projectId,
        environment: 'development',
        userId: probe.user_id,
        ttlSeconds: 3600,
        nowSeconds: now() - 7200,
        claims: {},
        sessionId: decodeJwt(probe.access_token).sid as string,
      });
      expectUnauthorised(await logoutWith(token));
      const next = await refreshWith(probe.refresh_token);
      expect(next.status).toBe(200);
      const rt = runtime();
      const anHourAgo = makeLogout({ ...rt, publicBaseUrl: rt.config.publicBaseUrl, now: () => Date.now() - 5_400_000 });
      expect((await logoutWith(token, {}, tenant, anHourAgo)).status).toBe(200);
      expectRefused(await refreshWith(next.body.refresh_token));
    });
  });
});
