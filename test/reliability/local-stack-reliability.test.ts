import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { decodeJwt } from 'jose';
import { fastScenarios } from '../support/fault-scenarios';
import { errorCode, flows, retrying, show, uniqueEmail, uniqueMobile } from '../support/flows';
import { describeRequest, hostileRequest, problemsWith } from '../support/hostile-requests';
import { isAnswer, rawRequest } from '../support/raw-http';
import { findSecrets } from '../support/secret-scan';
import { startStack, tableProblems, type Stack, type StackProject } from '../support/stack';

/**
 * The fast part of the reliability suite, in `npm test`: the service as its own process (as
 * `npm start` runs it) against its own DynamoDB Local, aws-ses-v2-local and local Twilio endpoint,
 * over loopback HTTP, with fault proxies in between. Concurrency, tenancy, a few thousand hostile
 * requests, one fault of each kind, and at the end a scan of everything the service logged.
 * The long runs are `npm run test:soak` (test/soak/); results in RELIABILITY.md.
 */

jest.setTimeout(180_000);

/** Hostile requests in `npm test`; the soak run sends at least 10,000. */
const FUZZ_CASES = Number(process.env.OTPGATE_FUZZ_CASES ?? 2_000);

/** Each test's figures (for RELIABILITY.md), written here at the end; nothing is asserted on them. */
const REPORT = process.env.OTPGATE_RELIABILITY_REPORT ?? join(tmpdir(), 'otpgate-reliability-report.md');
const figures: string[] = [];
/** What a test measured beyond the requests it sent through the stack. */
let note: { requests?: number; fiveXX?: number; worstMs?: number; faults?: number; tableProblems?: number } = {};
let before = { requests: 0, fiveXX: 0, unavailable: 0 };
/** Answers 500 and over other than 503 (what no fault excuses), and the 503s (what a fault may). */
const fiveXXSoFar = () => [...stack.tally.byStatus].filter(([status]) => status >= 500 && status !== 503).reduce((n, [, c]) => n + c, 0);
const unavailableSoFar = () => stack.tally.byStatus.get(503) ?? 0;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
}, 180_000);
beforeEach(() => {
  note = {};
  before = { requests: stack.tally.requests, fiveXX: fiveXXSoFar(), unavailable: unavailableSoFar() };
  stack.tally.worstMs = 0;
});
afterEach(() => {
  const requests = stack.tally.requests - before.requests + (note.requests ?? 0);
  const fiveXX = fiveXXSoFar() - before.fiveXX + (note.fiveXX ?? 0);
  const worst = Math.round(Math.max(stack.tally.worstMs, note.worstMs ?? 0));
  figures.push(`| ${expect.getState().currentTestName} | ${requests} | ${unavailableSoFar() - before.unavailable} | ${fiveXX} | ${worst} ms | ${note.faults ?? '-'} | ${note.tableProblems ?? '-'} |`);
});
afterAll(async () => {
  const scanned = stack ? `\n${stack.logs.length} log lines scanned for secrets.\n` : '';
  writeFileSync(REPORT, ['| test | requests | 503 | other 5xx | worst answer | faults injected | table problems |', '| --- | --- | --- | --- | --- | --- | --- |', ...figures, scanned].join('\n'));
  await stack?.stop();
});

const problemsOf = async (project: StackProject) => {
  const problems = tableProblems(await stack.scan(`T#${project.projectId}#`), project);
  note.tableProblems = (note.tableProblems ?? 0) + problems.length;
  return problems;
};

/** Each of the concurrent clients retries a 503 as it asks (see retrying); what they end up with is what counts. */
describe('concurrency', () => {
  test('50 parallel verifies of the right code: exactly one token; the other 49 are told the code is used (no_pending_otp)', async () => {
    const p = await stack.project();
    const f = flows(stack, p);
    const mobile = uniqueMobile();
    expect((await f.signupMobile(mobile)).status).toBe(201);
    const code = await stack.latestCode(`+91${mobile}`);
    const answers = await Promise.all(Array.from({ length: 50 }, () => retrying(() => f.verifyMobile(mobile, code))));
    const winners = answers.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    expect((await f.verifyToken(winners[0]!.body.access_token)).sub).toBe(winners[0]!.body.user_id);
    const losers = answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${errorCode(a)}`);
    expect(losers).toEqual(Array.from({ length: 49 }, () => '400 no_pending_otp'));
    // One session: the winner's refresh token works, and there is no other.
    expect((await f.refresh(winners[0]!.body.refresh_token)).status).toBe(200);
    expect((await stack.scan(`T#${p.projectId}#`)).filter((i) => i.sk === 'RT')).toHaveLength(2); // the first and its successor
    expect(await problemsOf(p)).toEqual([]);
  });

  test('50 parallel signups of one number: one user, one code sent; every 201 names that user, the rest wait for the cooldown', async () => {
    const p = await stack.project();
    const f = flows(stack, p);
    const mobile = uniqueMobile();
    const answers = await Promise.all(Array.from({ length: 50 }, () => retrying(() => f.signupMobile(mobile))));
    // (On a busy machine the one signup that sent the code may itself have run out of time: its client then hears "a code was sent moments ago".)
    for (const refused of answers.filter((a) => a.status !== 201)) expect(`${refused.status} ${errorCode(refused)}`).toBe('429 resend_too_soon');
    expect(await stack.inbox(`+91${mobile}`)).toHaveLength(1);
    const items = await stack.scan(`T#${p.projectId}#`);
    const users = items.filter((i) => i.sk === 'USER');
    expect(users).toHaveLength(1);
    expect(items.filter((i) => i.sk === 'IDENTITY')).toHaveLength(1);
    expect(new Set(answers.filter((a) => a.status === 201).map((a) => a.body.user_id))).toEqual(new Set(answers.some((a) => a.status === 201) ? [users[0]!.userId] : []));
    expect((await f.verifyMobile(mobile, await stack.latestCode(`+91${mobile}`))).body.user_id).toBe(users[0]!.userId);
    expect(await problemsOf(p)).toEqual([]);
  });

  test('50 parallel sends for one number across three styles, no cooldown and 5 an hour: at most 5 messages, and the code in the last one verifies', async () => {
    const p = await stack.project({ resendCooldownSeconds: 0, sendsPerIdentifierPerHour: 5 });
    const f = flows(stack, p);
    const mobile = uniqueMobile();
    const senders = [() => f.v1Send(mobile), () => f.whatsappSend(mobile), () => f.v1Send(mobile)];
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => retrying(senders[i % senders.length]!)));
    const sent = answers.filter((a) => a.status === 200 || a.status === 201);
    expect(answers.filter((a) => a.status >= 500).map(show)).toEqual([]);
    for (const refused of answers.filter((a) => a.status >= 300)) expect(`${refused.status} ${errorCode(refused)}`).toMatch(/^429 (resend_too_soon|too_many_requests)$/);
    const messages = await stack.inbox(`+91${mobile}`);
    expect(messages.length).toBe(sent.length);
    expect(messages.length).toBeGreaterThanOrEqual(1);
    expect(messages.length).toBeLessThanOrEqual(5);
    const last = messages[0]!; // newest first
    expect((await f.v1Authenticate(mobile, last.code!)).status).toBe(200);
    expect(await problemsOf(p)).toEqual([]);
  });
});

describe('tenancy: project A and project B', () => {
  test("A's key on B's paths, A's codes, ids and tokens against B: all refused, and A's own flow still works", async () => {
    const a = await stack.project();
    const b = await stack.project();
    const fa = flows(stack, a);
    const fb = flows(stack, b);
    const aOnB = flows(stack, { ...b, appKey: a.appKey });
    const mobile = uniqueMobile();
    const email = uniqueEmail();
    expect((await fa.signupMobile(mobile)).status).toBe(201);
    expect((await fa.signupEmail(email)).status).toBe(201);
    const code = await stack.latestCode(`+91${mobile}`);
    const emailCode = await stack.latestCode(email);

    // A's key on B's paths: the key belongs to another project.
    for (const answer of [await aOnB.signupMobile(uniqueMobile()), await aOnB.verifyMobile(mobile, code), await aOnB.loginEmail(email), await aOnB.refresh('ogr_x')]) {
      expect(`${answer.status} ${errorCode(answer)}`).toBe('401 invalid_app_key');
    }
    // A's codes with B's key: B has no such user or code (and nothing of A's is spent).
    expect(errorCode(await fb.verifyMobile(mobile, code))).toMatch(/^(no_pending_otp|user_not_found)$/);
    expect(errorCode(await fb.verifyEmail(email, emailCode))).toMatch(/^(no_pending_otp|user_not_found)$/);
    expect(errorCode(await fb.v1Authenticate(mobile, code))).toBe('no_pending_otp');
    // A's WhatsApp code id with B's key.
    const waMobile = uniqueMobile();
    const wa = await fa.whatsappSend(waMobile);
    expect(wa.status).toBe(201);
    const waCode = await stack.latestCode(`+91${waMobile}`);
    expect((await fb.whatsappVerify(wa.body.id, waMobile, waCode)).status).toBe(404);
    expect((await fa.whatsappVerify(wa.body.id, waMobile, waCode)).status).toBe(200);

    // A's tokens at B.
    const verified = await fa.verifyMobile(mobile, code);
    expect(verified.status).toBe(200);
    expect(`${(await fb.refresh(verified.body.refresh_token)).status}`).toBe('401');
    expect(errorCode(await fb.logout(verified.body.access_token))).toBe('invalid_access_token');
    await expect(flows(stack, b).verifyToken(verified.body.access_token)).rejects.toThrow();
    expect(decodeJwt(verified.body.access_token).aud).toBe(a.projectId);

    // A's own flows were not touched by any of it.
    expect((await fa.verifyEmail(email, emailCode)).status).toBe(200);
    expect((await fa.refresh(verified.body.refresh_token)).status).toBe(200);
    expect(await problemsOf(a)).toEqual([]);
    expect(await stack.scan(`T#${b.projectId}#`)).toEqual([]);
  });
});

describe('hostile input', () => {
  test(`${FUZZ_CASES} generated requests over every route of every style: each answer is JSON under 500, with the security headers, no stack trace, no hang`, async () => {
    const target = await stack.project();
    const other = await stack.project();
    const targets = { projectId: target.projectId, environment: target.environment, appKey: target.appKey, otherKey: other.appKey, whatsappConfigUid: target.whatsappConfigUid };
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(hostileRequest(targets), { minLength: 10, maxLength: 10 }), async (batch) => {
        const outcomes = await Promise.all(batch.map((request) => rawRequest(stack.port, request)));
        outcomes.forEach((outcome, i) => {
          note.requests = (note.requests ?? 0) + 1;
          note.worstMs = Math.max(note.worstMs ?? 0, outcome.ms);
          if (isAnswer(outcome)) statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
          if (isAnswer(outcome) && outcome.status >= 500) note.fiveXX = (note.fiveXX ?? 0) + 1;
          const problems = problemsWith(batch[i]!, outcome);
          if (problems.length > 0) throw new Error(`${describeRequest(batch[i]!)}\n  -> ${problems.join('; ')}`);
        });
      }),
      { numRuns: Math.ceil(FUZZ_CASES / 10), endOnFailure: true },
    );
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    // It did reach the handlers, not only the front door.
    expect([...statuses.keys()].filter((s) => s !== 404 && s !== 405 && s !== 401).length).toBeGreaterThan(2);
  });
});

describe('faults injected for real', () => {
  test.each(fastScenarios.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    const result = await scenario.run(stack);
    note.faults = result.faultsInjected;
    note.tableProblems = result.tableIssues.length;
    expect(result.problems).toEqual([]);
    if (result.faultExpected) expect(result.faultsInjected).toBeGreaterThanOrEqual(1);
  });
});

test('nothing the service logged during all of the above holds a code, token, key, secret, phone number or email', async () => {
  for (const message of await stack.inbox()) if (message.code) stack.ledger.codes.add(message.code);
  expect(stack.ledger.codes.size).toBeGreaterThan(10);
  expect(stack.ledger.opaque.size).toBeGreaterThan(10);
  expect(stack.ledger.phones.size).toBeGreaterThan(10);
  // The service did log what an operator needs: sends, verifies, failures, each with a masked address.
  const text = stack.logs.join('\n');
  for (const event of ['"code sent"', '"code verified"', '"code delivery failed"', '"dependency unavailable"']) expect(text).toContain(event);
  expect(text).toMatch(/"to":"\+91\*+\d{3}"/);
  expect(findSecrets(stack.logs, stack.ledger)).toEqual([]);
});
