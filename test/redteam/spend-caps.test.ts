import { jest } from '@jest/globals';
import { runtime } from '#core/runtime';
import { createCounterStore, shardCount, type SpendCaps } from '#core/store/counters';
import { inbox, newTenant, uniqueIndianMobile } from '../support/harness';
import { clocked, inSequence, poster, v1 } from './support';

/**
 * Red team: the project spend caps (store/counters.ts, README "Spend caps without a hot item").
 * The README promises "SMS per project per hour: smsPerHour (1000), exactly", caps that "can
 * never be exceeded", and that every limit "refuses a request before any code is stored or any
 * message sent". FAILING tests are findings.
 */

jest.setTimeout(90_000);

const smsTo = async (mobile: string) => (await inbox(`+91${mobile}`)).length;

describe('what counts against the budget', () => {
  test('[FINDING] a signup refused as 409 user_exists still spends the SMS budget: 5 refusals + 1 SMS exhaust a cap of 3', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { smsPerHour: 3, sendsPerIpPerHour: 0 } });
    const post = poster(tenant);
    const h = clocked();
    const victim = uniqueIndianMobile();
    expect((await post(h.mobileSignup, { mobile: victim })).status).toBe(201);
    h.advance(31_000);
    // No send is recorded for a refused signup, so neither the cooldown nor the per-number windows slow this down.
    const refused = await Promise.all(Array.from({ length: 5 }, () => post(h.mobileSignup, { mobile: victim })));
    expect(refused.every((r) => r.status === 409 || r.body.error.code === 'budget_exceeded')).toBe(true);
    expect(await smsTo(victim)).toBe(1);

    // One SMS has gone out this hour; the cap is 3. A real user signing up must get their code.
    const legit = uniqueIndianMobile();
    const res = await post(h.mobileSignup, { mobile: legit });
    expect(res.body.error?.code).toBeUndefined();
    expect(res.status).toBe(201);
  });

  test('[FINDING] 50 parallel sends to one number send 1 SMS yet use up the whole hourly budget of 20 (verification-id style: no per-IP limit)', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { smsPerHour: 20, allowedCountries: ['IN'] } });
    const h = clocked();
    const api = v1(tenant);
    const target = uniqueIndianMobile();
    const burst = await Promise.all(Array.from({ length: 50 }, () => api.send(h, `+91${target}`)));
    const sent = burst.filter((r) => r.status === 200).length;
    expect(sent).toBe(1);
    expect(await smsTo(target)).toBe(1);

    // 1 SMS of 20 sent. Five other users ask for a code.
    const others = await inSequence(5, () => api.send(h, `+91${uniqueIndianMobile()}`));
    expect(others.map((r) => r.body.error?.code ?? r.status)).toEqual([200, 200, 200, 200, 200]);
  });
});

describe('concealed signup of a registered address', () => {
  test('[FINDING] takes the per-IP (and spend) counters twice for one SMS: with sendsPerIpPerHour 5, the 4th code from one IP is refused', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { concealUserExistence: true, sendsPerIpPerHour: 5 } });
    const post = poster(tenant);
    const h = clocked();
    const mobile = uniqueIndianMobile();
    const answers = [];
    for (let i = 0; i < 4; i += 1) {
      answers.push(await post(h.mobileSignup, { mobile }, { sourceIp: '198.51.100.23' }));
      h.advance(31_000);
    }
    expect(await smsTo(mobile)).toBe(answers.filter((r) => r.status === 201).length);
    // 4 codes from one IP against a limit of 5.
    expect(answers.map((r) => r.body.error?.code ?? r.status)).toEqual([201, 201, 201, 201]);
  });
});

describe('clock-aligned windows', () => {
  test('[FINDING] smsPerHour = 10 lets 20 SMS out within two seconds across an hour boundary (and 2x smsPerDay across midnight)', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { smsPerHour: 10, smsPerDay: 1000, sendsPerIpPerHour: 0 } });
    const post = poster(tenant);
    const h = clocked();
    h.setTime(Date.UTC(2031, 0, 15, 10, 59, 59));
    const before = await inSequence(11, () => post(h.mobileSignup, { mobile: uniqueIndianMobile() }));
    expect(before.filter((r) => r.status === 201)).toHaveLength(10);
    h.advance(2_000); // 11:00:01
    const after = await inSequence(11, () => post(h.mobileSignup, { mobile: uniqueIndianMobile() }));
    // README: "SMS per project per hour | smsPerHour (1000), exactly".
    expect(before.filter((r) => r.status === 201).length + after.filter((r) => r.status === 201).length).toBeLessThanOrEqual(10);
  });
});

describe('caps changed during the day (shardCount moves)', () => {
  const store = () => createCounterStore(docClient(), runtime().config.tableName);
  const at = Date.UTC(2031, 1, 3, 9, 0, 0);
  /** Each send to its own country, so the per-country cap never binds unless it is meant to. */
  const takeMany = async (projectId: string, caps: SpendCaps, n: number, hourOffset = 0) => {
    const s = store();
    let ok = 0;
    for (let i = 0; i < n; i += 1) {
      const r = await s.takeSpend(projectId, 'sms', `C${i}`, caps, at + hourOffset * 3_600_000 + i);
      if (r.ok) ok += 1;
    }
    return ok;
  };

  test('[FINDING] lowering sendsPerCountryPerHour mid-day (8 -> 2 shards) lets the day go past smsPerDay: 80 + 60 against a cap of 80', async () => {
    const projectId = `t-spend-${Date.now()}`;
    const wide: SpendCaps = { perHour: 1_000_000, perDay: 80, perCountryPerHour: 500 };
    expect(shardCount(wide)).toBe(8);
    expect(await takeMany(projectId, wide, 90)).toBe(80); // the day's cap, exactly
    // The operator tightens the per-country cap against an attack; smsPerDay is unchanged.
    const tight: SpendCaps = { ...wide, perCountryPerHour: 2 };
    expect(shardCount(tight)).toBe(2);
    const more = await takeMany(projectId, tight, 100, 1);
    expect(80 + more).toBeLessThanOrEqual(80);
  });

  test('[FINDING] raising sendsPerCountryPerHour mid-day (1 -> 8 shards) lets the day go past smsPerDay: 80 + 70 against a cap of 80', async () => {
    const projectId = `t-spend-${Date.now()}-b`;
    const narrow: SpendCaps = { perHour: 1_000_000, perDay: 80, perCountryPerHour: 1 };
    expect(shardCount(narrow)).toBe(1);
    expect(await takeMany(projectId, narrow, 90)).toBe(80);
    const wide: SpendCaps = { ...narrow, perCountryPerHour: 500 };
    const more = await takeMany(projectId, wide, 100, 1);
    expect(80 + more).toBeLessThanOrEqual(80);
  });

  test('[holds] with caps unchanged, 200 concurrent takes against perDay 37 over 8 shards get exactly 37', async () => {
    const projectId = `t-spend-${Date.now()}-c`;
    const caps: SpendCaps = { perHour: 1_000_000, perDay: 37, perCountryPerHour: 1_000_000 };
    const s = store();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => s.takeSpend(projectId, 'sms', 'IN', caps, at + i)));
    expect(results.filter((r) => r.ok)).toHaveLength(37);
  });
});

describe('environments', () => {
  test('[FINDING, documented] the development key can use up production\'s SMS budget (caps are per project, all environments together)', async () => {
    const tenant = await newTenant({ limits: 'defaults', environments: ['development', 'production'], settings: { smsPerHour: 3, sendsPerIpPerHour: 0 } });
    const h = clocked();
    const dev = poster({ projectId: tenant.projectId, environment: 'development', appKey: tenant.keys.development! });
    const prod = poster({ projectId: tenant.projectId, environment: 'production', appKey: tenant.keys.production! });
    await inSequence(3, () => dev(h.mobileSignup, { mobile: uniqueIndianMobile() }));
    const res = await prod(h.mobileSignup, { mobile: uniqueIndianMobile() });
    expect(res.body.error?.code).toBeUndefined();
    expect(res.status).toBe(201);
  });

  test('[holds] SMS sent through the mobile and the verification-id styles share one cap', async () => {
    const tenant = await newTenant({ limits: 'defaults', settings: { smsPerHour: 4, sendsPerIpPerHour: 0 } });
    const h = clocked();
    const post = poster(tenant);
    await inSequence(2, () => post(h.mobileSignup, { mobile: uniqueIndianMobile() }));
    await inSequence(2, () => v1(tenant).send(h, `+91${uniqueIndianMobile()}`));
    expect((await v1(tenant).send(h, `+91${uniqueIndianMobile()}`)).body.error.code).toBe('budget_exceeded');
    expect((await post(h.mobileSignup, { mobile: uniqueIndianMobile() })).body.error.code).toBe('budget_exceeded');
  });
});

// The runtime does not expose its document client; build one the same way.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
let doc: DynamoDBDocumentClient | undefined;
function docClient() {
  return (doc ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }));
}
