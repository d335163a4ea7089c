import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { allScenarios, type ScenarioResult } from '../support/fault-scenarios';
import { errorCode, flows, show, uniqueEmail, uniqueMobile } from '../support/flows';
import { describeRequest, hostileRequest, problemsWith } from '../support/hostile-requests';
import { isAnswer, rawRequest } from '../support/raw-http';
import { findSecrets } from '../support/secret-scan';
import { startStack, tableProblems, type Answer, type Stack } from '../support/stack';

/**
 * `npm run test:soak`: the long runs of the reliability suite against the local stack (see
 * test/reliability/ for the fast part and RELIABILITY.md for the last results): at least 10,000
 * hostile requests, every fault on every dependency, a mixed load of thousands of distinct users
 * checked afterwards item by item, and a scan of every line the service logged. Bounded to about
 * 10 minutes on a 2-core machine; the figures are printed and written to a report file.
 */

jest.setTimeout(600_000);

const FUZZ_CASES = Number(process.env.OTPGATE_SOAK_FUZZ_CASES ?? 15_000);
const LOAD_SECONDS = Number(process.env.OTPGATE_SOAK_LOAD_SECONDS ?? 200);
const LOAD_CLIENTS = Number(process.env.OTPGATE_SOAK_CLIENTS ?? 12);
const REPORT = process.env.OTPGATE_SOAK_REPORT ?? join(tmpdir(), 'otpgate-soak-report.md');

let stack: Stack;
const report: string[] = [];
const percentile = (sorted: readonly number[], p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0);

beforeAll(async () => {
  stack = await startStack();
}, 180_000);
afterAll(async () => {
  const text = `# Soak run, ${new Date().toISOString()}\n\n${report.join('\n\n')}\n`;
  writeFileSync(REPORT, text);
  console.log(`${text}\n(written to ${REPORT})`);
  await stack?.stop();
});

test(`hostile input: ${FUZZ_CASES} generated requests over every route of every style, none answered 5xx, non-JSON, with a stack trace or not at all`, async () => {
  const target = await stack.project();
  const other = await stack.project();
  const targets = { projectId: target.projectId, environment: target.environment, appKey: target.appKey, otherKey: other.appKey, whatsappConfigUid: target.whatsappConfigUid };
  const statuses = new Map<number, number>();
  const times: number[] = [];
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(fc.array(hostileRequest(targets), { minLength: 10, maxLength: 10 }), async (batch) => {
      const outcomes = await Promise.all(batch.map((request) => rawRequest(stack.port, request)));
      outcomes.forEach((outcome, i) => {
        times.push(outcome.ms);
        if (isAnswer(outcome)) statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
        const problems = problemsWith(batch[i]!, outcome);
        if (problems.length > 0) throw new Error(`${describeRequest(batch[i]!)}\n  -> ${problems.join('; ')}`);
      });
    }),
    { numRuns: Math.ceil(FUZZ_CASES / 10), endOnFailure: true },
  );
  times.sort((a, b) => a - b);
  const fiveXX = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
  report.push(
    [
      '## Hostile input',
      `${times.length} requests in ${Math.round((Date.now() - started) / 1000)} s (10 at a time); answers by status: ${[...statuses].sort(([a], [b]) => a - b).map(([s, c]) => `${s}: ${c}`).join(', ')}.`,
      `5xx: ${fiveXX}; answer time p50 ${percentile(times, 0.5)} ms, p99 ${percentile(times, 0.99)} ms, worst ${percentile(times, 1)} ms.`,
    ].join('\n'),
  );
  expect(fiveXX).toBe(0);
});

test('faults: every kind on every dependency; each answered in time, each flow completed after recovery, the table clean', async () => {
  const results: (ScenarioResult & { sent: number })[] = [];
  for (const scenario of allScenarios) {
    const before = stack.tally.requests;
    const result = await scenario.run(stack);
    results.push({ ...result, sent: stack.tally.requests - before });
  }
  report.push(
    [
      '## Faults',
      '| fault | requests | answers while broken | worst answer | faults injected | retry after recovery | table |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...results.map(
        (r) =>
          `| ${r.name} | ${r.sent} | ${r.during.length === 0 ? '(none: the flow was not affected)' : [...new Set(r.during.map((d) => d.replace(/ \(.*$/, '')))].map((d) => `${r.during.filter((x) => x.startsWith(d)).length} × ${d}`).join(', ')} | ${Math.round(r.worstMs)} ms | ${r.faultsInjected} | ${r.problems.length === r.tableIssues.length ? 'completed' : `FAILED: ${r.problems.filter((x) => !r.tableIssues.includes(x)).join('; ')}`} | ${r.tableIssues.length === 0 ? 'clean' : r.tableIssues.join('; ')} |`,
      ),
      `${results.reduce((n, r) => n + r.sent, 0)} requests, ${results.reduce((n, r) => n + r.faultsInjected, 0)} faults injected; unexpected 5xx (anything but 503 service_unavailable): ${results.reduce((n, r) => n + r.unexpected5xx, 0)}.`,
    ].join('\n'),
  );
  for (const result of results) expect({ scenario: result.name, problems: result.problems }).toEqual({ scenario: result.name, problems: [] });
  expect(results.reduce((n, r) => n + r.unexpected5xx, 0)).toBe(0);
});

test(`load: ${LOAD_CLIENTS} clients for ${LOAD_SECONDS} s of signups, logins and verifies in every style, thousands of distinct users; no 5xx, nothing lost`, async () => {
  const p = await stack.project({
    // Thousands of numbers in a few minutes from one machine: the project's spend caps would be the only thing tested.
    smsPerHour: 10_000_000,
    smsPerDay: 100_000_000,
    whatsappPerHour: 10_000_000,
    whatsappPerDay: 100_000_000,
    emailPerHour: 10_000_000,
    emailPerDay: 100_000_000,
    sendsPerCountryPerHour: 10_000_000,
  });
  const f = flows(stack, p);
  const latencies: number[] = [];
  const byStatus = new Map<string, number>();
  const anomalies: string[] = [];
  const users = new Map<string, string>(); // userId -> address, for every 201 signup and every user a verify created
  const verifiedUsers = new Set<string>();
  const accessTokens: { token: string; userId: string }[] = [];
  const refreshTokens: string[] = [];
  let whatsappVerified = 0;
  const counted = async (send: () => Promise<Answer>, expected: number, what: string): Promise<Answer | undefined> => {
    const answer = await send();
    latencies.push(answer.ms);
    const key = `${answer.status}${errorCode(answer) ? ` ${errorCode(answer)}` : ''}`;
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
    if (answer.status !== expected) {
      anomalies.push(`${what}: ${show(answer)}`);
      return undefined;
    }
    return answer;
  };
  const tokens = (answer: Answer | undefined, userId: string | undefined) => {
    if (!answer || !userId) return;
    verifiedUsers.add(userId);
    accessTokens.push({ token: answer.body.access_token ?? answer.body.data.token, userId });
    refreshTokens.push(answer.body.refresh_token ?? answer.body.data.refreshToken);
  };
  const kinds = {
    async mobile() {
      const mobile = uniqueMobile();
      const created = await counted(() => f.signupMobile(mobile), 201, 'mobile signup');
      if (!created) return;
      users.set(created.body.user_id, `+91${mobile}`);
      const verified = await counted(() => f.verifyMobile(mobile, stack.sentCode(`+91${mobile}`)!), 200, 'mobile verify');
      tokens(verified, verified?.body.user_id);
      if (verified && Math.random() < 0.5) {
        const refreshed = await counted(() => f.refresh(verified.body.refresh_token), 200, 'refresh');
        tokens(refreshed, refreshed?.body.user_id);
      }
    },
    async mobileWrongFirst() {
      const mobile = uniqueMobile();
      const created = await counted(() => f.signupMobile(mobile), 201, 'mobile signup');
      if (!created) return;
      users.set(created.body.user_id, `+91${mobile}`);
      const code = stack.sentCode(`+91${mobile}`)!;
      await counted(() => f.verifyMobile(mobile, code === '000000' ? '111111' : '000000'), 401, 'wrong code');
      tokens(await counted(() => f.verifyMobile(mobile, code), 200, 'mobile verify after a wrong code'), created.body.user_id);
    },
    async email() {
      const email = uniqueEmail();
      const created = await counted(() => f.signupEmail(email), 201, 'email signup');
      if (!created) return;
      users.set(created.body.user_id, email);
      const verified = await counted(() => f.verifyEmail(email, stack.sentCode(email)!), 200, 'email verify');
      tokens(verified, verified?.body.user_id);
    },
    async verificationId() {
      const mobile = uniqueMobile();
      const sent = await counted(() => f.v1Send(mobile), 200, 'v1 send');
      if (!sent) return;
      const authenticated = await counted(() => f.v1Authenticate(mobile, stack.sentCode(`+91${mobile}`)!, sent.body.data.verificationId), 200, 'v1 authenticate');
      if (authenticated) users.set(authenticated.body.data.publicUserId, `+91${mobile}`);
      tokens(authenticated, authenticated?.body.data.publicUserId);
    },
    async whatsapp() {
      const mobile = uniqueMobile();
      const sent = await counted(() => f.whatsappSend(mobile), 201, 'whatsapp send');
      if (!sent) return;
      if (await counted(() => f.whatsappVerify(sent.body.id, mobile, stack.sentCode(`+91${mobile}`)!), 200, 'whatsapp verify')) whatsappVerified += 1;
    },
  };
  const mix = [kinds.mobile, kinds.mobile, kinds.email, kinds.verificationId, kinds.whatsapp, kinds.mobileWrongFirst];
  const started = Date.now();
  const until = started + LOAD_SECONDS * 1000;
  let flowsRun = 0;
  await Promise.all(
    Array.from({ length: LOAD_CLIENTS }, async (_, client) => {
      for (let i = client; Date.now() < until; i += LOAD_CLIENTS) {
        await mix[i % mix.length]!();
        flowsRun += 1;
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;

  // Afterwards, item by item: every user that was told it exists does, every token verifies, every session is there.
  const items = await stack.scan(`T#${p.projectId}#${p.environment}#`);
  const byKey = new Map(items.map((item) => [`${item.pk}|${item.sk}`, item]));
  const prefix = `T#${p.projectId}#${p.environment}#`;
  const lost: string[] = [];
  for (const [userId, address] of users) {
    if (!byKey.has(`${prefix}USER#${userId}|USER`)) lost.push(`user ${userId}`);
    const identity = byKey.get(`${prefix}ID#${address.includes('@') ? 'email' : 'phone'}#${address}|IDENTITY`);
    if (identity?.userId !== userId) lost.push(`the address of user ${userId}`);
    if (verifiedUsers.has(userId) && typeof identity?.verifiedAt !== 'number') lost.push(`the verified mark of user ${userId}`);
  }
  for (const token of refreshTokens) {
    if (!byKey.has(`${prefix}RT#${createHash('sha256').update(token, 'utf8').digest('hex')}|RT`)) lost.push('a refresh token');
  }
  const jwks = createLocalJWKSet((await f.jwks()).body);
  let badTokens = 0;
  for (const { token, userId } of accessTokens) {
    const claims = await jwtVerify(token, jwks, { issuer: `${stack.origin}${f.base}`, audience: p.projectId }).then(
      (r) => r.payload,
      () => undefined,
    );
    if (claims?.sub !== userId) badTokens += 1;
  }
  const problems = tableProblems(items, p);
  latencies.sort((a, b) => a - b);
  const fiveXX = [...byStatus].filter(([k]) => Number(k.slice(0, 3)) >= 500).reduce((n, [, c]) => n + c, 0);
  report.push(
    [
      '## Load',
      `${LOAD_CLIENTS} clients, each running flows back to back for ${Math.round(seconds)} s: ${flowsRun} flows, ${latencies.length} requests (${(latencies.length / seconds).toFixed(1)} requests/s), ${users.size} distinct users created, ${accessTokens.length} access tokens and ${refreshTokens.length} refresh tokens issued, ${whatsappVerified} WhatsApp codes verified.`,
      `Answers: ${[...byStatus].sort().map(([k, c]) => `${k}: ${c}`).join(', ')}. 5xx: ${fiveXX}. Unexpected answers: ${anomalies.length}.`,
      `Answer time p50 ${percentile(latencies, 0.5)} ms, p95 ${percentile(latencies, 0.95)} ms, p99 ${percentile(latencies, 0.99)} ms, worst ${percentile(latencies, 1)} ms.`,
      `Afterwards: lost writes ${lost.length} (users, addresses, verified marks, refresh tokens checked one by one), tokens that do not verify ${badTokens}, table problems ${problems.length}.`,
    ].join('\n'),
  );
  expect(fiveXX).toBe(0);
  expect(anomalies.slice(0, 20)).toEqual([]);
  expect(lost.slice(0, 20)).toEqual([]);
  expect(badTokens).toBe(0);
  expect(problems.slice(0, 20)).toEqual([]);
  // Thousands of distinct users at the default length (fewer when OTPGATE_SOAK_LOAD_SECONDS shortens it).
  expect(users.size).toBeGreaterThan(LOAD_SECONDS >= 150 ? 1_000 : 0);
});

test('secrets: nothing the service logged during the whole run holds a code, token, key, secret, phone number or email', async () => {
  for (const message of await stack.inbox()) if (message.code) stack.ledger.codes.add(message.code);
  const found = findSecrets(stack.logs, stack.ledger);
  report.push(
    [
      '## Secrets in the logs',
      `${stack.logs.length} log lines scanned for ${stack.ledger.codes.size} codes, ${stack.ledger.opaque.size} tokens, keys and secrets, ${stack.ledger.phones.size} phone numbers and ${stack.ledger.emails.size} emails: ${found.length} found.`,
    ].join('\n'),
  );
  expect(found.slice(0, 20)).toEqual([]);
});
