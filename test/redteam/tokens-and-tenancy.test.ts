import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { jest } from '@jest/globals';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { runtime } from '#core/runtime';
import { createSessionStore } from '#core/store/sessions';
import { createSessions } from '#core/tokens/sessions';
import { logoutRoute, tokenRefreshRoute } from '#core/tokens/session-routes';
import { handler as jwks } from '../../functions/jwks';
import { event, latestCode, newTenant, uniqueIndianMobile, type TestTenant } from '../support/harness';
import { call, clocked, poster, v1, wa, wrongCode } from './support';

/**
 * Red team: refresh tokens and logout racing each other, session lifetime, and every kind of id or
 * token of one project or environment used against another. FAILING tests are findings.
 */

jest.setTimeout(90_000);

const DAY = 86_400_000;
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));

const signIn = async (tenant: Pick<TestTenant, 'projectId' | 'environment' | 'appKey'>) => {
  const h = clocked();
  const post = poster(tenant);
  const mobile = uniqueIndianMobile();
  expect((await post(h.mobileSignup, { mobile })).status).toBe(201);
  const res = await post(h.mobileVerify, { mobile, otp_code: await latestCode(`+91${mobile}`) });
  expect(res.status).toBe(200);
  return { mobile, ...(res.body as { user_id: string; access_token: string; refresh_token: string }) };
};

/** A refresh that has read its session (not revoked) and is about to mark its token rotated when a logout of that session lands. */
const raceRefreshWithLogout = async (tenant: TestTenant) => {
  const session = await signIn(tenant);
  const rt = runtime();
  const real = createSessionStore(doc, rt.config.tableName);
  let releaseRefresh!: () => void;
  const logoutDone = new Promise<void>((resolve) => (releaseRefresh = resolve));
  let refreshReachedMark!: () => void;
  const atMark = new Promise<void>((resolve) => (refreshReachedMark = resolve));
  const store = {
    ...real,
    markRotated: async (...args: Parameters<typeof real.markRotated>) => {
      refreshReachedMark();
      await logoutDone;
      return real.markRotated(...args);
    },
  };
  const refresh = tokenRefreshRoute({ ...rt, sessions: createSessions({ store }), publicBaseUrl: undefined });
  const logout = logoutRoute({ ...rt, publicBaseUrl: undefined });
  const post = poster(tenant);
  const refreshing = post(refresh, { refresh_token: session.refresh_token });
  await atMark;
  const loggedOut = await post(logout, {}, { headers: { authorization: `Bearer ${session.access_token}` } });
  releaseRefresh();
  return { loggedOut, refreshed: await refreshing, post, refresh };
};

describe('refresh racing logout', () => {
  test('[FINDING] a refresh in flight when logout returns still answers 200 with a fresh access token, minted after the logout', async () => {
    const { loggedOut, refreshed } = await raceRefreshWithLogout(await newTenant());
    expect(loggedOut.status).toBe(200);
    // The session was revoked before this answer went out; no new credential should leave with it.
    expect(refreshed.status).toBe(401);
  });

  test('[holds] the refresh token that such a racing refresh returns is already dead', async () => {
    const { refreshed, post, refresh } = await raceRefreshWithLogout(await newTenant());
    expect(refreshed.status).toBe(200);
    expect((await post(refresh, { refresh_token: refreshed.body.refresh_token })).status).toBe(401);
  });
});

describe('session lifetime', () => {
  test('[FINDING] a session has no absolute lifetime: refreshed every 29 days it still works after 2 years (ASVS 5 7.3.2)', async () => {
    const tenant = await newTenant();
    const session = await signIn(tenant);
    const rt = runtime();
    const base = Date.now();
    let offset = 0;
    const sessions = createSessions({ store: createSessionStore(doc, rt.config.tableName), now: () => base + offset });
    const refresh = tokenRefreshRoute({ ...rt, sessions, publicBaseUrl: undefined, now: () => base + offset });
    const post = poster(tenant);
    let token = session.refresh_token;
    let last = 0;
    for (let i = 0; i < 26; i += 1) {
      offset += 29 * DAY;
      const res = await post(refresh, { refresh_token: token });
      last = res.status;
      if (res.status !== 200) break;
      token = res.body.refresh_token;
    }
    // 26 x 29 days = 754 days after the one sign-in with a code.
    expect(last).toBe(401);
  });
});

describe('ids and tokens of one tenant used against another', () => {
  test('[holds] a verificationId and the right code of project A, sent to project B: no_pending_otp, and A loses nothing', async () => {
    const a = await newTenant();
    const b = await newTenant();
    const h = clocked();
    const number = `+91${uniqueIndianMobile()}`;
    const sent = await v1(a).send(h, number);
    const code = await latestCode(number);
    const cross = await v1(b).authenticate(h, { phoneNumber: number, verificationCode: code, verificationId: sent.body.data.verificationId });
    expect(cross.status).toBe(400);
    expect(cross.body.error.code).toBe('no_pending_otp');
    const crossWrong = await v1(b).authenticate(h, { phoneNumber: number, verificationCode: wrongCode(code) });
    expect(crossWrong.body.error.code).toBe('no_pending_otp');
    const own = await v1(a).authenticate(h, { phoneNumber: number, verificationCode: code, verificationId: sent.body.data.verificationId });
    expect(own.status).toBe(200);
  });

  test('[holds] a WhatsApp otp id of environment A verified with the key of environment B: 404, and A can still verify', async () => {
    const uid = randomUUID();
    const tenant = await newTenant({ environments: ['development', 'production'], settings: { whatsappConfigs: { [uid]: { from: '+14155238886' } } } });
    const dev = { ...tenant, environment: 'development', appKey: tenant.keys.development! };
    const prod = { ...tenant, environment: 'production', appKey: tenant.keys.production! };
    const h = clocked();
    const mobile = uniqueIndianMobile();
    const sent = await wa(dev).send(h, uid, { mobileNumber: mobile, countryCode: '91' });
    const code = await latestCode(`+91${mobile}`);
    expect((await wa(prod).verify(h, sent.body.id, { otp: code, mobileNumber: mobile, countryCode: '91' })).status).toBe(404);
    expect((await wa(dev).verify(h, sent.body.id, { otp: code, mobileNumber: mobile, countryCode: '91' })).status).toBe(200);
  });

  test('[holds] each environment has its own code for one number: production’s code is a wrong guess in development', async () => {
    const tenant = await newTenant({ environments: ['development', 'production'] });
    const dev = { ...tenant, environment: 'development', appKey: tenant.keys.development! };
    const prod = { ...tenant, environment: 'production', appKey: tenant.keys.production! };
    const h = clocked();
    const mobile = uniqueIndianMobile();
    await poster(dev)(h.mobileSignup, { mobile });
    await poster(prod)(h.mobileSignup, { mobile });
    const prodCode = await latestCode(`+91${mobile}`);
    const r = await poster(dev)(h.mobileVerify, { mobile, otp_code: prodCode }); // the newest SMS is production's
    expect(r.status).toBe(401); // judged against development's own code only
    expect((await poster(prod)(h.mobileVerify, { mobile, otp_code: prodCode })).status).toBe(200);
  });

  test('[holds] an access token of project A: refused by B\'s logout and by B\'s JWKS; a refresh token of A refused by B', async () => {
    const a = await newTenant();
    const b = await newTenant();
    const session = await signIn(a);
    const h = clocked();
    const logoutB = await poster(b)(h.logout, {}, { headers: { authorization: `Bearer ${session.access_token}` } });
    expect(logoutB.status).toBe(401);
    expect(logoutB.body.error.code).toBe('invalid_access_token');
    const keysB = createLocalJWKSet((await call(jwks, event(b, { method: 'GET' }))).body as never);
    await expect(jwtVerify(session.access_token, keysB)).rejects.toThrow();
    expect((await poster(b)(h.refresh, { refresh_token: session.refresh_token })).status).toBe(401);
    expect((await poster(a)(h.refresh, { refresh_token: session.refresh_token })).status).toBe(200);
  });

  test('[holds] the APP-KEY of A with the path of B, and a key in x-api-key with the path of another environment: 401', async () => {
    const tenant = await newTenant({ environments: ['development', 'production'] });
    const h = clocked();
    const wrongEnv = await call(h.mobileSignup, event({ projectId: tenant.projectId, environment: 'production' }, { body: { mobile: uniqueIndianMobile() }, headers: { 'x-api-key': tenant.keys.development! } }));
    expect(wrongEnv.status).toBe(401);
    const other = await newTenant();
    const wrongProject = await call(h.mobileSignup, event(other, { body: { mobile: uniqueIndianMobile() }, appKey: tenant.appKey }));
    expect(wrongProject.status).toBe(401);
  });
});
