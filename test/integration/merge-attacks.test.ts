import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { createEngine, type Sender, type Tenant } from '#core/otp/engine';
import { emailIdentity, phoneIdentity, type Identity } from '#core/otp/identity';
import { runtime } from '#core/runtime';
import type { CounterStore } from '#core/store/counters';
import type { IdentityStore } from '#core/store/identities';
import { resolveSettings } from '#core/tenancy/settings';
import { capturing, deferred } from '../support/engine-probes';
import { newTenant, relaxedLimits, uniqueEmail, uniqueIndianMobile } from '../support/harness';

/**
 * Red-team attacks on the merge of the abuse limits, the reliability work and the single-write
 * verify (otp/engine.ts, store/identities.ts), against DynamoDB Local. Interleavings are forced
 * with deferred promises around the store's own calls, never with timing. The first five were
 * findings (each failed before its fix: the decoy's per-IP count, the decoy replacing a pending
 * code twice over, pseudonyms across a removal, a removed user's sessions); the rest held.
 */

const table = process.env.TABLE_NAME!;
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
afterAll(() => doc.destroy());


const tenantWith = async (settings: Record<string, unknown> = {}, base: Record<string, unknown> = relaxedLimits): Promise<Tenant> => {
  const created = await newTenant();
  return { projectId: created.projectId, environment: created.environment, settings: resolveSettings({ ...base, ...settings }, '+91', created.environment) };
};

const engineWith = (identities: IdentityStore = runtime().identities, counters: CounterStore = runtime().counters) =>
  createEngine({ identities, counters, pepper: runtime().pepper, sleep: async () => undefined });

const phone = () => phoneIdentity(`+91${uniqueIndianMobile()}`);
const codeOf = (error: unknown) => (error as { code?: string }).code;
const outcome = <T>(p: Promise<T>) => p.then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, code: codeOf(e) }));

describe('concealUserExistence', () => {
  test('a concealed login for an unknown address counts against the per-IP limit like a real one, so the IP budget does not tell known from unknown', async () => {
    const tenant = await tenantWith({ concealUserExistence: true, sendsPerIpPerHour: 2 });
    const engine = engineWith();
    const { sender } = capturing();
    const [a, b, known] = [phone(), phone(), phone()];
    for (const id of [a, b, known]) await engine.signup(tenant, id, sender); // no IP: not counted
    const unknown = phone();

    // Two attackers' IPs, each: a login to A, a login to the address probed, a login to B.
    const probe = async (ip: string, probed: Identity) => {
      const ctx = { clientIp: ip, style: 'mobile-email' };
      await engine.login(tenant, a, sender, ctx);
      await engine.login(tenant, probed, sender, ctx);
      return outcome(engine.login(tenant, b, sender, ctx)).then((o) => (o.ok ? 'sent' : o.code));
    };
    const afterKnown = await probe('198.51.100.7', known);
    const afterUnknown = await probe('198.51.100.8', unknown);
    // The third login's answer must not depend on whether the probed address has a user.
    expect(afterKnown).toBe('too_many_requests');
    expect(afterUnknown).toBe(afterKnown);
  });

  test('a concealed login to an address with no user leaves a code another style sent to it pending', async () => {
    const tenant = await tenantWith({ concealUserExistence: true });
    const engine = engineWith();
    const start = capturing();
    const login = capturing();
    const address = phone();
    // The verification-id / WhatsApp style sends a code to an address with no user yet.
    await engine.start(tenant, address, start.sender);
    const code = start.last()!;
    // Anyone calls mobile-otp-login for that address: 200 with the pseudonym, no message.
    await engine.login(tenant, address, login.sender);
    expect(login.sent).toHaveLength(0);
    // The last message the user received carries the code that is pending (README, Reliability): it must still verify.
    await expect(engine.verify(tenant, address, code, { unknownUser: 'create' })).resolves.toMatchObject({ userId: expect.any(String) });
  });

  test('a signup that lands between a concealed login\'s owner lookup and its decoy keeps its code', async () => {
    const rt = runtime();
    const tenant = await tenantWith({ concealUserExistence: true });
    const lookedUp = deferred();
    const resume = deferred();
    let hold = true;
    const identities: IdentityStore = {
      ...rt.identities,
      findOwner: async (...args) => {
        const found = await rt.identities.findOwner(...args);
        if (hold) {
          hold = false;
          lookedUp.resolve();
          await resume.promise;
        }
        return found;
      },
    };
    const engine = engineWith(identities);
    const address = phone();
    const login = capturing();
    const signup = capturing();
    const loggingIn = engine.login(tenant, address, login.sender);
    await lookedUp.promise; // the login has found no user
    await engine.signup(tenant, address, signup.sender); // the real user signs up and gets a code
    resume.resolve();
    await loggingIn; // the decoy: 200, nothing sent
    expect(login.sent).toHaveLength(0);
    await expect(engine.verify(tenant, address, signup.last()!)).resolves.toMatchObject({ userId: expect.any(String) });
  });

  test('with concealUserExistence a removed user\'s id is never given to whoever signs the address up next (a recycled number does not inherit the old user\'s sub)', async () => {
    const rt = runtime();
    const tenant = await tenantWith({ concealUserExistence: true });
    const engine = engineWith();
    const c = capturing();
    const address = phone();
    const first = await engine.signup(tenant, address, c.sender);
    await engine.verify(tenant, address, c.last()!);
    await expect(rt.identities.removeUser(tenant, address, Date.now())).resolves.toBe(true);
    // The number is recycled: a new person signs it up and verifies.
    const second = await engine.signup(tenant, address, c.sender);
    const verified = await engine.verify(tenant, address, c.last()!);
    expect(verified.userId).toBe(second.userId);
    expect(second.userId).not.toBe(first.userId);
  });

  test('a guess at a concealed decoy is answered like a guess at a real user\'s code (same error, same tries left)', async () => {
    const tenant = await tenantWith({ concealUserExistence: true });
    const engine = engineWith();
    const { sender } = capturing();
    const real = phone();
    await engine.signup(tenant, real, sender);
    const unknown = phone();
    const knownLogin = await engine.login(tenant, real, sender);
    const decoyLogin = await engine.login(tenant, unknown, sender);
    expect(Object.keys(decoyLogin).sort()).toEqual(Object.keys(knownLogin).sort());
    const wrong = async (id: Identity) => {
      const error = await engine.verify(tenant, id, '999999').then(() => undefined, (e: unknown) => e as { code?: string; status?: number; details?: unknown; message?: string });
      return { code: error?.code, status: error?.status, message: error?.message };
    };
    expect(await wrong(unknown)).toEqual(await wrong(real));
  });
});

describe('single-write verify and the owner invariant', () => {
  test('a verified user removed after verify read the code, before it consumed it, gets no token', async () => {
    const rt = runtime();
    const tenant = await tenantWith();
    const reached = deferred();
    const gate = deferred();
    let hold = false;
    const identities: IdentityStore = {
      ...rt.identities,
      consume: async (...args) => {
        if (hold) {
          hold = false;
          reached.resolve();
          await gate.promise;
        }
        return rt.identities.consume(...args);
      },
    };
    const engine = engineWith(identities);
    const c = capturing();
    const address = phone();
    await engine.signup(tenant, address, c.sender);
    await engine.verify(tenant, address, c.last()!);
    await engine.login(tenant, address, c.sender); // a code with ownerVerified: the single-write path
    hold = true;
    const verifying = outcome(engine.verify(tenant, address, c.last()!));
    await reached.promise;
    await expect(rt.identities.removeUser(tenant, address, Date.now())).resolves.toBe(true);
    gate.resolve();
    expect(await verifying).toEqual({ ok: false, code: 'user_not_found' });
  });

  test('a signup whose delivery fails after its code was verified keeps the user (a user who verified is never deleted)', async () => {
    const rt = runtime();
    const tenant = await tenantWith();
    const engine = engineWith();
    const address = emailIdentity(uniqueEmail());
    const got = deferred<string>();
    const fail = deferred();
    const slow: Sender = {
      channel: 'email',
      send: async (m) => {
        got.resolve(m.code); // the provider did deliver ...
        await fail.promise;
        throw new Error('provider timed out'); // ... but answered with an error
      },
    };
    const signingUp = outcome(engine.signup(tenant, address, slow));
    const code = await got.promise;
    const verified = await engine.verify(tenant, address, code);
    fail.resolve();
    expect((await signingUp).ok).toBe(false);
    await expect(rt.identities.findOwner(tenant, address)).resolves.toEqual({ userId: verified.userId, verified: true });
    const { Item } = await doc.send(new GetCommand({ TableName: table, Key: { pk: `T#${tenant.projectId}#${tenant.environment}#USER#${verified.userId}`, sk: 'USER' } }));
    expect(Item?.userId).toBe(verified.userId);
  });

  test('30 concurrent verifies of one code with a session alongside: one success, one session', async () => {
    const tenant = await tenantWith();
    const engine = engineWith();
    const c = capturing();
    const address = phone();
    await engine.signup(tenant, address, c.sender);
    await engine.verify(tenant, address, c.last()!);
    await engine.login(tenant, address, c.sender);
    const code = c.last()!;
    const sessions: string[] = [];
    const alongside = () => {
      const sk = `S#${sessions.length}#${Math.random()}`;
      sessions.push(sk);
      return [{ Put: { TableName: table, Item: { pk: `redteam2#${tenant.projectId}`, sk }, ConditionExpression: 'attribute_not_exists(pk)' } }];
    };
    const results = await Promise.all(Array.from({ length: 30 }, () => outcome(engine.verify(tenant, address, code, { alongside }))));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(new Set(results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.code)))).toEqual(new Set(['no_pending_otp']));
    const written = await Promise.all(sessions.map((sk) => doc.send(new GetCommand({ TableName: table, Key: { pk: `redteam2#${tenant.projectId}`, sk } }))));
    expect(written.filter((w) => w.Item !== undefined)).toHaveLength(1);
  });

  test('wrong codes are not forgotten when a new code is sent, by login or by a repeated signup of a never-verified user', async () => {
    const rt = runtime();
    const tenant = await tenantWith({ failedVerificationsPerIdentifierPerHour: 3 }, { ...relaxedLimits });
    const engine = engineWith();
    const c = capturing();
    const address = phone();
    await engine.signup(tenant, address, c.sender);
    await engine.verify(tenant, address, '000000').catch(() => undefined);
    await engine.signup(tenant, address, c.sender); // never verified: 201 and a new code
    await engine.verify(tenant, address, '000001').catch(() => undefined);
    await engine.login(tenant, address, c.sender);
    await engine.verify(tenant, address, '000002').catch(() => undefined);
    const state = await rt.identities.readState(tenant, address);
    expect([state.failCount, state.consecutiveFails]).toEqual([3, 3]);
    await expect(engine.verify(tenant, address, c.last()!)).rejects.toMatchObject({ code: 'too_many_failures' });
    await expect(engine.login(tenant, address, c.sender)).rejects.toMatchObject({ code: 'too_many_failures' });
  });
});

describe('send limits and spend caps under concurrency', () => {
  test('50 parallel sends to one number with the default limits: one message, and the cap counts exactly that one', async () => {
    const tenant = await tenantWith({ smsPerHour: 2, smsPerDay: 2 }, {});
    const engine = engineWith();
    const c = capturing();
    const target = phone();
    const results = await Promise.all(Array.from({ length: 50 }, () => outcome(engine.start(tenant, target, c.sender))));
    expect(c.sent).toHaveLength(1);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    // The 49 refused sends gave their counts back: exactly one more SMS fits under the cap of 2.
    await expect(engine.start(tenant, phone(), c.sender)).resolves.toMatchObject({ challengeId: expect.any(String) });
    await expect(engine.start(tenant, phone(), c.sender)).rejects.toMatchObject({ code: 'budget_exceeded' });
  });
});

describe('sessions of a removed user', () => {
  test('a refresh token stops working when its user is removed', async () => {
    const rt = runtime();
    const tenant = await tenantWith();
    const engine = engineWith();
    const c = capturing();
    const address = phone();
    await engine.signup(tenant, address, c.sender);
    await engine.verify(tenant, address, c.last()!);
    await engine.login(tenant, address, c.sender);
    // A token style's verify: the session starts in the transaction that uses up the code.
    let session: { refreshToken: string } | undefined;
    const alongside = (userId: string | undefined) => {
      const prepared = rt.sessions.prepare(tenant, userId!, { claims: {}, accessTtlSeconds: 300 });
      session = prepared.session as unknown as { refreshToken: string };
      return [prepared.write];
    };
    await engine.verify(tenant, address, c.last()!, { alongside });
    await expect(rt.identities.removeUser(tenant, address, Date.now())).resolves.toBe(true);
    // The user is gone; its refresh token must not get a new session.
    await expect(rt.sessions.refresh(tenant, session!.refreshToken)).rejects.toMatchObject({ status: 401 });
  });
});
