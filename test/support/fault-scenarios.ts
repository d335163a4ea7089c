import { errorCode, flows, show, uniqueEmail, uniqueMobile } from './flows';
import type { Fault, FaultProxy, FaultRule } from './fault-proxy';
import { tableProblems, type Answer, type Stack, type StackProject } from './stack';

/**
 * Faults injected for real into the local stack, one scenario each: the dependency is broken, a
 * client runs a flow and gets an answer (kept, with its time), the dependency recovers, the client
 * retries and must complete the flow, and the table must hold no duplicate, orphaned or stuck
 * item. Shared by `npm test` (one fault of each kind) and the soak run (all of them, repeatedly).
 */

export interface ScenarioResult {
  readonly name: string;
  /** What the client was told while the dependency was broken. */
  readonly during: readonly string[];
  /** The slowest of those answers (ms). */
  readonly worstMs: number;
  readonly faultsInjected: number;
  /** Everything that went against the rules; empty when the scenario passed. */
  readonly problems: readonly string[];
  /** Of those, what the table check found (duplicate, orphaned or stuck items). */
  readonly tableIssues: readonly string[];
  /** Whether the fault must have been met (a scenario may prove that a write no longer exists: then it is not). */
  readonly faultExpected: boolean;
  /** Requests sent, and answers 500 or over that were not the expected 503 (or 502 for a refusal). */
  readonly requests: number;
  readonly unexpected5xx: number;
}

export interface Scenario {
  readonly name: string;
  readonly run: (stack: Stack) => Promise<ScenarioResult>;
}

/** Records what a scenario sees and checks it against the rules. */
const recorder = (name: string) => {
  const during: Answer[] = [];
  const problems: string[] = [];
  let requests = 0;
  let unexpected5xx = 0;
  const count = (answer: Answer) => {
    requests += 1;
    if (answer.status >= 500 && answer.status !== 503) unexpected5xx += 1;
    return answer;
  };
  return {
    /** An answer while the fault is on: a JSON 503 service_unavailable with Retry-After, or one of `alsoFine`. */
    broken(answer: Answer, alsoFine: readonly number[] = []) {
      during.push(count(answer));
      if (alsoFine.includes(answer.status)) return answer;
      if (answer.status !== 503 || errorCode(answer) !== 'service_unavailable' || !(Number(answer.headers['retry-after']) >= 1)) {
        problems.push(`while broken: expected 503 service_unavailable with Retry-After, got ${show(answer)} ${JSON.stringify(answer.body).slice(0, 200)}`);
      }
      return answer;
    },
    /** An answer while the fault is on that must succeed despite it (a slow provider within its timeout). */
    unaffected(answer: Answer, status: number, what: string) {
      during.push(answer);
      return this.expect(answer, status, what);
    },
    /** An answer after recovery. */
    expect(answer: Answer, status: number, what: string) {
      count(answer);
      if (answer.status !== status) problems.push(`${what}: expected ${status}, got ${show(answer)} ${JSON.stringify(answer.body).slice(0, 200)}`);
      return answer;
    },
    problems,
    async finish(stack: Stack, project: StackProject, faultsInjected: number, faultExpected = true): Promise<ScenarioResult> {
      const tableIssues = tableProblems(await stack.scan(`T#${project.projectId}#`), project);
      return { name, during: during.map(show), worstMs: Math.max(0, ...during.map((a) => a.ms)), faultsInjected, faultExpected, problems: [...problems, ...tableIssues], tableIssues, requests, unexpected5xx };
    },
  };
};

const INJECTED_DYNAMODB_500 = JSON.stringify({ __type: 'com.amazon.coral.service#InternalFailure', message: 'injected failure' });
/** DynamoDB's own answer to a failed operation (500 InternalFailure), as the SDK expects it. */
const DYNAMODB_500: Fault = { kind: 'fail', status: 500, body: INJECTED_DYNAMODB_500, contentType: 'application/x-amz-json-1.0' };

/** One request made while `rule` is in force on `proxy`; the proxy is healed afterwards, whatever happened. */
const whileFaulted = async (proxy: FaultProxy, rule: FaultRule, action: () => Promise<Answer>): Promise<Answer> => {
  proxy.inject(rule);
  try {
    return await action();
  } finally {
    proxy.heal();
  }
};
const dynamoOp = (op: string) => (request: { headers: Record<string, unknown> }) => String(request.headers['x-amz-target'] ?? '').endsWith(`.${op}`);

/** DynamoDB Local paused (SIGSTOP) while a signup and a JWKS read come in, then resumed. */
export const dynamoPaused: Scenario = {
  name: 'DynamoDB Local paused (SIGSTOP), then resumed: mobile signup and JWKS',
  async run(stack) {
    const r = recorder(this.name);
    const p = await stack.project({ resendCooldownSeconds: 0 });
    const f = flows(stack, p);
    const mobile = uniqueMobile();
    stack.pauseDynamo();
    try {
      const [signup, jwks] = await Promise.all([f.signupMobile(mobile), f.jwks()]);
      r.broken(signup);
      r.broken(jwks);
    } finally {
      stack.resumeDynamo();
    }
    r.expect(await f.signupMobile(mobile), 201, 'signup after resume');
    r.expect(await f.verifyMobile(mobile, await stack.latestCode(`+91${mobile}`)), 200, 'verify after resume');
    return r.finish(stack, p, 1);
  },
};

/** DynamoDB Local killed (SIGKILL) under a running stack; the supervisor restarts it with its data. */
export const dynamoKilled: Scenario = {
  name: 'DynamoDB Local killed (SIGKILL), restarted by the local stack: signup, login of an earlier user',
  async run(stack) {
    const r = recorder(this.name);
    const p = await stack.project({ resendCooldownSeconds: 0 });
    const f = flows(stack, p);
    const earlier = uniqueMobile();
    r.expect(await f.signupMobile(earlier), 201, 'signup before the kill');
    r.expect(await f.verifyMobile(earlier, await stack.latestCode(`+91${earlier}`)), 200, 'verify before the kill');
    const mobile = uniqueMobile();
    const backs = stack.notices.filter((line) => line.includes('is back')).length;
    process.kill(stack.services.dynamoPid()!, 'SIGKILL');
    const [signup, login] = await Promise.all([f.signupMobile(mobile), f.loginMobile(earlier)]);
    // The restart may already be done by the time a request arrives: then it simply works.
    r.broken(signup, [201]);
    r.broken(login, [200]);
    await stack.waitFor(() => stack.notices.filter((line) => line.includes('is back')).length > backs, 'DynamoDB Local back', 120_000);
    if (signup.status !== 201) r.expect(await f.signupMobile(mobile), 201, 'signup after the restart');
    r.expect(await f.verifyMobile(mobile, await stack.latestCode(`+91${mobile}`)), 200, 'verify after the restart');
    if (login.status !== 200) r.expect(await f.loginMobile(earlier), 200, 'login of the earlier user after the restart');
    r.expect(await f.verifyMobile(earlier, await stack.latestCode(`+91${earlier}`)), 200, 'the earlier user verifies after the restart');
    if (!stack.notices.some((line) => /DynamoDB Local exited \(SIGKILL\); restarting it/.test(line))) r.problems.push('the local stack did not say that DynamoDB Local exited');
    return r.finish(stack, p, 1);
  },
};

/** A provider broken through its fault proxy during a send; healed; the send retried and the code verified. */
const providerScenario = (dependency: 'twilio' | 'ses', fault: Fault, label: string, options: { expectSuccess?: boolean } = {}): Scenario => ({
  name: `${dependency === 'ses' ? 'SES' : 'Twilio'} ${label}: ${dependency === 'ses' ? 'email' : 'SMS'} signup`,
  async run(stack) {
    const r = recorder(this.name);
    const p = await stack.project({ resendCooldownSeconds: 0 });
    const f = flows(stack, p);
    const proxy = stack.proxies[dependency];
    const address = dependency === 'ses' ? uniqueEmail() : uniqueMobile();
    const to = dependency === 'ses' ? address : `+91${address}`;
    const signup = () => (dependency === 'ses' ? f.signupEmail(address) : f.signupMobile(address));
    const verify = (code: string) => (dependency === 'ses' ? f.verifyEmail(address, code) : f.verifyMobile(address, code));
    const before = proxy.stats.faulted;
    const first = await whileFaulted(proxy, { fault }, () => signup());
    if (options.expectSuccess) r.unaffected(first, 201, 'signup through a slow provider');
    else r.broken(first);
    if (first.status !== 201) r.expect(await signup(), 201, 'signup retried after recovery');
    // The code of the last message the service sent. (A provider that accepts the abandoned message
    // after our timeout delivers it later still, with a code that was taken back: see RELIABILITY.md.)
    r.expect(await verify(await stack.latestCode(to)), 200, 'verify of the newest code');
    return r.finish(stack, p, proxy.stats.faulted - before);
  },
});

export const twilioHang = providerScenario('twilio', { kind: 'hang' }, 'hanging');
export const twilioReset = providerScenario('twilio', { kind: 'reset' }, 'resetting connections');
export const twilioFail = providerScenario('twilio', { kind: 'fail', status: 503, body: JSON.stringify({ code: 20503, message: 'Service Unavailable', status: 503 }) }, 'failing (503)');
export const twilioSlow = providerScenario('twilio', { kind: 'slow', delayMs: 2_000 }, 'slow (2 s, within its timeout)', { expectSuccess: true });
export const twilioTooSlow = providerScenario('twilio', { kind: 'slow', delayMs: 12_000 }, 'slow (12 s, past its timeout)');
export const sesHang = providerScenario('ses', { kind: 'hang' }, 'hanging');
export const sesReset = providerScenario('ses', { kind: 'reset' }, 'resetting connections');
export const sesFail = providerScenario('ses', { kind: 'fail', status: 500, body: JSON.stringify({ message: 'InternalFailure' }) }, 'failing (500)');
export const sesSlow = providerScenario('ses', { kind: 'slow', delayMs: 2_000 }, 'slow (2 s, within its timeout)', { expectSuccess: true });
export const sesTooSlow = providerScenario('ses', { kind: 'slow', delayMs: 12_000 }, 'slow (12 s, past its timeout)');

/**
 * Every DynamoDB write a verify makes fails (500, every attempt): the code must either be spent
 * with its token issued, or stay pending so that a retry gets the token. Never spent and lost.
 */
export const verifyWritesFail = (op: 'TransactWriteItems' | 'PutItem' | 'UpdateItem'): Scenario => ({
  name: `DynamoDB failing every ${op} (500) during a verify`,
  async run(stack) {
    const r = recorder(this.name);
    const p = await stack.project({ resendCooldownSeconds: 0 });
    const f = flows(stack, p);
    const mobile = uniqueMobile();
    r.expect(await f.signupMobile(mobile), 201, 'signup');
    const code = await stack.latestCode(`+91${mobile}`);
    const before = stack.proxies.dynamo.stats.faulted;
    const first = await whileFaulted(stack.proxies.dynamo, { fault: DYNAMODB_500, when: dynamoOp(op) }, () => f.verifyMobile(mobile, code));
    r.broken(first, [200]);
    const final = first.status === 200 ? first : r.expect(await f.verifyMobile(mobile, code), 200, 'the same code after recovery');
    if (final.status === 200) {
      await f.verifyToken(final.body.access_token).catch((error: unknown) => r.problems.push(`the token does not verify: ${String(error)}`));
      r.expect(await f.refresh(final.body.refresh_token), 200, 'the refresh token of that verify');
    }
    // A verify that makes no such write at all has nothing to lose to it (PutItem, UpdateItem: none since the session moved into the consume).
    return r.finish(stack, p, stack.proxies.dynamo.stats.faulted - before, op === 'TransactWriteItems');
  },
});

/**
 * A verify that is one UpdateItem (WhatsApp's verifyOTP: no user, no session, only the code's own
 * item) while every UpdateItem fails (500): the write is not repeated (it may have landed), the
 * client is told 503, and the same code then verifies, once.
 */
export const singleWriteVerifyFails: Scenario = {
  name: 'DynamoDB failing every UpdateItem (500) during a WhatsApp verify (one UpdateItem)',
  async run(stack) {
    const r = recorder(this.name);
    const p = await stack.project({ resendCooldownSeconds: 0 });
    const f = flows(stack, p);
    const mobile = uniqueMobile();
    const sent = r.expect(await f.whatsappSend(mobile), 201, 'WhatsApp send');
    const code = await stack.latestCode(`+91${mobile}`);
    const before = stack.proxies.dynamo.stats.faulted;
    const first = await whileFaulted(stack.proxies.dynamo, { fault: DYNAMODB_500, when: dynamoOp('UpdateItem') }, () => f.whatsappVerify(sent.body.id, mobile, code));
    r.broken(first);
    r.expect(await f.whatsappVerify(sent.body.id, mobile, code), 200, 'the same code after recovery');
    const again = await f.whatsappVerify(sent.body.id, mobile, code);
    if (again.status < 400 || again.status >= 500) r.problems.push(`a used code must stay used: got ${show(again)}`);
    return r.finish(stack, p, stack.proxies.dynamo.stats.faulted - before);
  },
};

/**
 * The write that uses up the code hangs (its request never reaches DynamoDB): the client is told
 * 503 in time, the same code then gets the token, and once used the code stays used.
 */
export const consumeHangsOnce: Scenario = {
  name: 'DynamoDB hanging on the verify transaction (once)',
  async run(stack) {
    const r = recorder(this.name);
    const p = await stack.project({ resendCooldownSeconds: 0 });
    const f = flows(stack, p);
    const mobile = uniqueMobile();
    r.expect(await f.signupMobile(mobile), 201, 'signup');
    const code = await stack.latestCode(`+91${mobile}`);
    const before = stack.proxies.dynamo.stats.faulted;
    const first = await whileFaulted(stack.proxies.dynamo, { fault: { kind: 'hang' }, when: dynamoOp('TransactWriteItems'), times: 1 }, () => f.verifyMobile(mobile, code));
    r.broken(first, [200]);
    if (first.status !== 200) r.expect(await f.verifyMobile(mobile, code), 200, 'the same code after recovery');
    const again = await f.verifyMobile(mobile, code);
    if (again.status !== 400 || errorCode(again) !== 'no_pending_otp') r.problems.push(`a used code must stay used: got ${show(again)}`);
    return r.finish(stack, p, stack.proxies.dynamo.stats.faulted - before);
  },
};

/**
 * DynamoDB Local paused for 10 s (longer than a request's budget) while 20 users sign up and verify, so the pause falls anywhere in
 * their flows (between a write and the next, with writes queued in the paused process that land
 * after the clients were told 503). Each client does what a 503 asks and retries; one told the code
 * is gone (a late-landing verify used it) asks for a new one, as the README says. Every user must
 * end signed in, and the table clean.
 */
export const dynamoPausedDuringFlows: Scenario = {
  name: 'DynamoDB Local paused for 10 s in the middle of 20 concurrent signup-and-verify flows',
  async run(stack) {
    const r = recorder(this.name);
    const p = await stack.project({ resendCooldownSeconds: 0 });
    const f = flows(stack, p);
    const wait = (answer: Answer) => new Promise((resolve) => setTimeout(resolve, Number(answer.headers['retry-after'] ?? 1) * 1000));
    const user = async (mobile: string): Promise<void> => {
      for (let attempt = 0; ; attempt += 1) {
        if (attempt > 10) return void r.problems.push(`+91${mobile} never got through its signup`);
        const signup = await f.signupMobile(mobile);
        if (signup.status === 201) break;
        r.broken(signup, [429]);
        await wait(signup);
      }
      for (let attempt = 0; ; attempt += 1) {
        if (attempt > 10) return void r.problems.push(`+91${mobile} never got a token`);
        const verified = await f.verifyMobile(mobile, await stack.latestCode(`+91${mobile}`));
        if (verified.status === 200) return;
        if (errorCode(verified) === 'no_pending_otp' || errorCode(verified) === 'invalid_otp') {
          const login = await f.loginMobile(mobile);
          if (login.status !== 200) r.broken(login, [429]);
          continue;
        }
        r.broken(verified);
        await wait(verified);
      }
    };
    const done = Promise.all(Array.from({ length: 20 }, () => user(uniqueMobile())));
    await new Promise((resolve) => setTimeout(resolve, 300));
    stack.pauseDynamo();
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    stack.resumeDynamo();
    await done;
    return r.finish(stack, p, 1);
  },
};

/** `npm test`: one fault of each kind (pause, kill, hang, slow, fail, reset), and verifies whose one write fails. */
export const fastScenarios: readonly Scenario[] = [dynamoPaused, dynamoKilled, twilioHang, sesSlow, twilioFail, sesReset, singleWriteVerifyFails, verifyWritesFail('TransactWriteItems')];

/** The soak run: every fault on every dependency. */
export const allScenarios: readonly Scenario[] = [
  dynamoPaused,
  dynamoKilled,
  twilioHang,
  twilioReset,
  twilioFail,
  twilioSlow,
  twilioTooSlow,
  sesHang,
  sesReset,
  sesFail,
  sesSlow,
  sesTooSlow,
  verifyWritesFail('TransactWriteItems'),
  verifyWritesFail('PutItem'),
  verifyWritesFail('UpdateItem'),
  singleWriteVerifyFails,
  consumeHangsOnce,
  dynamoPausedDuringFlows,
  dynamoPausedDuringFlows,
];
