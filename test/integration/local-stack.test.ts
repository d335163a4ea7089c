import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { freePort } from '../../local/services';
import { jest } from '@jest/globals';
import { run } from '../support/cli';
import twilio from 'twilio';
import { uniqueEmail, uniqueIndianMobile } from '../support/harness';

/**
 * `npm start` as a developer runs it: a child process serving the route table on localhost with
 * its own DynamoDB Local, the demo project in .otp-local/project.json, the dev inbox, and data
 * that survives a restart. Stopping it must leave no DynamoDB Local (Java) process behind.
 */

jest.setTimeout(120_000);

const home = mkdtempSync(join(tmpdir(), 'otpgate-home-'));
let child: ChildProcess | undefined;
let output = '';

const start = async (port: number) => {
  output = '';
  const { PATH, HOME } = process.env;
  child = spawn('npm', ['start', '--silent'], {
    env: { PATH, HOME, PORT: String(port), OTPGATE_HOME: home, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so "Ctrl-C" can go to the whole group as a terminal sends it
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  while (!output.includes('Press Ctrl-C to stop')) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return JSON.parse(readFileSync(join(home, 'project.json'), 'utf8')) as {
    baseUrl: string;
    projectId: string;
    environment: string;
    appKey: string;
    whatsappConfigUid: string;
    verifyServiceSid: string;
    verifyAccountSid: string;
  };
};

/** What Ctrl-C in a terminal does: SIGINT to every process of the foreground group. */
const stop = async (signal: NodeJS.Signals = 'SIGINT') => {
  if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return 'not running';
  const exited = new Promise<string>((resolve) => child!.once('exit', (code, sig) => resolve(code === 0 || sig === 'SIGINT' ? 'stopped' : `failed: ${code ?? sig}`)));
  process.kill(-child.pid, signal);
  return exited;
};

const javaForThisHome = () => spawnSync('pgrep', ['-f', `DynamoDBLocal.*${home}`], { encoding: 'utf8' }).stdout.trim();

afterAll(async () => {
  await stop('SIGKILL'); // only reached with a process still running, i.e. when the test failed
  spawnSync('pkill', ['-f', `DynamoDBLocal.*${home}`]);
});

const post = (url: string, appKey: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'APP-KEY': appKey, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
    async (r) => ({ status: r.status, headers: Object.fromEntries(r.headers), body: (await r.json()) as Record<string, any> }),
  );

test('npm start serves the documented flow, the dev inbox and the JWKS; data survives a restart', async () => {
  const port = await freePort();
  const project = await start(port);
  expect(project).toEqual({
    baseUrl: `http://localhost:${port}/auth/demo/development`,
    projectId: 'demo',
    environment: 'development',
    appKey: expect.stringMatching(/^og_/),
    whatsappConfigUid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
    verifyServiceSid: expect.stringMatching(/^VA[0-9a-f]{32}$/),
    verifyAccountSid: expect.stringMatching(/^AC[0-9a-f]{32}$/),
  });
  expect(output).toContain(project.appKey);
  expect(output).toContain(project.whatsappConfigUid);
  expect(output).toContain(project.verifyServiceSid);
  expect(output).toContain(project.verifyAccountSid);
  expect(output).toContain('curl');
  expect(output).toContain(`http://localhost:${port}/_dev/inbox`);

  const mobile = uniqueIndianMobile();
  const created = await post(`${project.baseUrl}/mobile-otp-signup`, project.appKey, { country_code: '+91', mobile });
  expect(created.status).toBe(201);

  const messages = (await (await fetch(`http://localhost:${port}/_dev/messages?to=%2B91${mobile}`)).json()) as { channel: string; to: string; code: string; body: string }[];
  expect(messages).toHaveLength(1);
  expect(messages[0]).toMatchObject({ channel: 'sms', to: `+91${mobile}`, code: expect.stringMatching(/^\d{6}$/) });

  const verified = await post(`${project.baseUrl}/mobile-otp-verify`, project.appKey, { mobile, otp_code: messages[0]!.code });
  expect(verified.status).toBe(200);
  const { payload } = await jwtVerify(verified.body.access_token, createRemoteJWKSet(new URL(`${project.baseUrl}/.well-known/jwks.json`)), {
    issuer: project.baseUrl,
    audience: 'demo',
  });
  expect(payload.sub).toBe(created.body.user_id);
  const discovery = (await (await fetch(`${project.baseUrl}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  expect(discovery.issuer).toBe(project.baseUrl);

  // The verification-id style (seed 003): the origin of baseUrl, the key alone in x-api-key, the seed's formatting.
  const origin = new URL(project.baseUrl).origin;
  const v1 = (path: string, body: unknown) =>
    fetch(`${origin}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'x-api-key': project.appKey }, body: JSON.stringify(body) }).then(
      async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }),
    );
  const line = String(Math.floor(Math.random() * 10_000)).padStart(4, '0');
  const sent = await v1('/v1/send-verification-code', { phoneNumber: `+1(201)555-${line}` });
  expect(sent).toMatchObject({ status: 200, body: { status: 'success', data: { verificationId: expect.any(String) } } });
  const [sms] = (await (await fetch(`http://localhost:${port}/_dev/messages?to=%2B1201555${line}`)).json()) as { code: string }[];
  const authenticated = await v1('/v1/user/authenticate', { idType: 'smsVerificationCode', phoneNumber: `+1(201)555-${line}`, verificationCode: sms!.code });
  expect(authenticated.status).toBe(200);
  const { payload: v1Payload } = await jwtVerify(authenticated.body.data.token, createRemoteJWKSet(new URL(`${project.baseUrl}/.well-known/jwks.json`)), {
    issuer: project.baseUrl,
    audience: 'demo',
  });
  expect(v1Payload.sub).toBe(authenticated.body.data.publicUserId);
  const preflight = await fetch(`${origin}/v1/user/authenticate`, { method: 'OPTIONS' });
  expect(preflight.headers.get('access-control-allow-headers')).toContain('x-api-key');

  const email = uniqueEmail();
  const emailUser = await post(`${project.baseUrl}/email-otp-signup`, project.appKey, { email });
  expect(emailUser.status).toBe(201);
  const all = (await (await fetch(`http://localhost:${port}/_dev/messages`)).json()) as { channel: string; to: string; code: string }[];
  expect(all[0]).toMatchObject({ channel: 'email', to: email }); // newest first

  // The WhatsApp OTP style with the demo's configuration, as the README's curl examples do it.
  const whatsappNumber = uniqueIndianMobile();
  const otpPost = (path: string, body: unknown) =>
    fetch(`${origin}${path}`, { method: 'POST', headers: { 'X-API-KEY': project.appKey, 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).then(
      async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }),
    );
  const whatsappSent = await otpPost(`/otp/${project.whatsappConfigUid}/sendOTP`, { name: 'Ana', mobileNumber: whatsappNumber, countryCode: '91' });
  expect(whatsappSent.status).toBe(201);
  const [whatsapp] = (await (await fetch(`${origin}/_dev/messages?to=%2B91${whatsappNumber}`)).json()) as { channel: string; to: string; code: string }[];
  expect(whatsapp).toMatchObject({ channel: 'whatsapp', to: `+91${whatsappNumber}`, code: expect.stringMatching(/^\d{6}$/) });
  const wrong = await otpPost(`/otp/${whatsappSent.body.id}/verifyOTP`, { otp: whatsapp!.code === '000000' ? '111111' : '000000', mobileNumber: whatsappNumber, countryCode: '+91' });
  expect(wrong.body).toMatchObject({ status: 403, error: 'Forbidden', path: `/otp/${whatsappSent.body.id}/verifyOTP` });
  const right = await otpPost(`/otp/${whatsappSent.body.id}/verifyOTP`, { otp: whatsapp!.code, mobileNumber: whatsappNumber, countryCode: '+91' });
  expect(right).toEqual({ status: 200, body: { id: whatsappSent.body.id, message: 'success' } });

  // The Twilio Verify API with the twilio SDK, changed only in its base URL and credentials.
  const verifyClient = (p: typeof project) => {
    const client = twilio(p.verifyAccountSid, p.appKey);
    client.verify.baseUrl = origin;
    return client.verify.v2.services(p.verifyServiceSid);
  };
  const verify = verifyClient(project);
  const verifyTo = `+91${uniqueIndianMobile()}`;
  const started = await verify.verifications.create({ to: verifyTo, channel: 'sms' });
  expect(started).toMatchObject({ status: 'pending', serviceSid: project.verifyServiceSid, accountSid: project.verifyAccountSid, url: `${origin}/v2/Services/${project.verifyServiceSid}/Verifications/${started.sid}` });
  const [verifySms] = (await (await fetch(`${origin}/_dev/messages?to=${encodeURIComponent(verifyTo)}`)).json()) as { code: string }[];
  expect(await verify.verificationChecks.create({ to: verifyTo, code: verifySms!.code })).toMatchObject({ sid: started.sid, status: 'approved', valid: true });
  expect(await verify.verifications(started.sid).fetch()).toMatchObject({ status: 'approved' });
  const whatsappVerifyTo = `+91${uniqueIndianMobile()}`;
  const toCancel = await verify.verifications.create({ to: whatsappVerifyTo, channel: 'whatsapp' });
  expect(await verify.verifications(toCancel.sid).update({ status: 'canceled' })).toMatchObject({ status: 'canceled' });

  // Limits hold on the local stack too: a second code for the number within 30 s is refused.
  const tooSoon = await post(`${project.baseUrl}/mobile-otp-login`, project.appKey, { mobile });
  expect(tooSoon.status).toBe(429);
  expect(tooSoon.body.error.code).toBe('resend_too_soon');
  expect(Number(tooSoon.headers['retry-after'])).toBeGreaterThan(0);

  // npx otpgate finds this stack with no flags (DynamoDB Local's port is random): a second project,
  // whose key works at once and whose settings change applies to the next request.
  expect(JSON.parse(readFileSync(join(home, 'local.json'), 'utf8'))).toMatchObject({ tableName: 'otpgate-local', apiUrl: `http://localhost:${port}` });
  const otpgate = (...args: string[]) => run(process.execPath, ['cli/otpgate.mjs', ...args], { OTPGATE_HOME: home });
  const second = await otpgate('projects', 'create', 'second', '--env', 'dev', '--json');
  expect(second.stderr).toBe('');
  const [secondKey] = (JSON.parse(second.stdout) as { keys: { appKey: string; baseUrl: string }[] }).keys;
  expect(secondKey!.baseUrl).toBe(`http://localhost:${port}/auth/second/dev`);
  expect((await post(`${secondKey!.baseUrl}/mobile-otp-signup`, secondKey!.appKey, { country_code: '+91', mobile: uniqueIndianMobile() })).status).toBe(201);
  expect((await otpgate('settings', 'set', 'second', 'codeLength=8')).code).toBe(0);
  const eightDigits = uniqueIndianMobile();
  expect((await post(`${secondKey!.baseUrl}/mobile-otp-signup`, secondKey!.appKey, { country_code: '+91', mobile: eightDigits })).status).toBe(201);
  const [eight] = (await (await fetch(`http://localhost:${port}/_dev/messages?to=%2B91${eightDigits}`)).json()) as { code: string }[];
  expect(eight!.code).toMatch(/^\d{8}$/);

  const unknown = await fetch(`http://localhost:${port}/auth/demo/development/nope`, { method: 'POST' });
  expect(unknown.status).toBe(404);
  expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found');

  // Ctrl-C stops everything, DynamoDB Local included.
  expect(javaForThisHome()).not.toBe('');
  expect(await stop()).toBe('stopped');
  expect(output).not.toMatch(/error/i);
  expect(javaForThisHome()).toBe('');
  expect(existsSync(join(home, 'dynamodb'))).toBe(true);
  expect(existsSync(join(home, 'local.json'))).toBe(false); // so the CLI says the stack is not running

  // A restart keeps the key, the user, the signing key and the WhatsApp configuration, even one
  // with a project.json from before WhatsApp (no whatsappConfigUid): the project's own is found again.
  const { whatsappConfigUid: _dropped, verifyServiceSid: _sid, verifyAccountSid: _account, ...older } = project;
  writeFileSync(join(home, 'project.json'), JSON.stringify(older));
  const again = await start(port);
  expect(again.appKey).toBe(project.appKey);
  expect(again.whatsappConfigUid).toBe(project.whatsappConfigUid);
  expect(again.verifyServiceSid).toBe(project.verifyServiceSid);
  expect(again.verifyAccountSid).toBe(project.verifyAccountSid);
  expect(await verifyClient(again).verifications(started.sid).fetch()).toMatchObject({ status: 'approved' });
  // The dev inbox still shows what was sent before the restart, emails included.
  const kept = (await (await fetch(`http://localhost:${port}/_dev/messages`)).json()) as { id: string; channel: string; to: string }[];
  expect(kept).toContainEqual(all[0]);
  expect(kept).toContainEqual(all[1]);
  expect(kept).toContainEqual(expect.objectContaining({ channel: 'sms', to: `+91${mobile}`, code: messages[0]!.code }));
  // DynamoDB Local dies under the running stack: npm start says so in one line and brings it back, with its data.
  const java = Number(javaForThisHome().split('\n')[0]);
  expect(java).toBeGreaterThan(0);
  process.kill(java, 'SIGKILL');
  const deadline = Date.now() + 90_000;
  while (!output.includes('otpgate local: DynamoDB Local is back') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  expect(output).toMatch(/^otpgate local: DynamoDB Local exited \(SIGKILL\); restarting it on port \d+ with its data$/m);
  expect(output).toContain('otpgate local: DynamoDB Local is back');
  // The email user and its pending code survived the restart and the kill: the code sent before them verifies after.
  const afterRestart = await post(`${again.baseUrl}/email-otp-verify`, again.appKey, { email, otp_code: all[0]!.code });
  expect(afterRestart.status).toBe(200);
  expect(afterRestart.body.user_id).toBe(emailUser.body.user_id);
  await jwtVerify(verified.body.access_token, createRemoteJWKSet(new URL(`${again.baseUrl}/.well-known/jwks.json`)), { issuer: again.baseUrl, audience: 'demo' });
  expect(await stop()).toBe('stopped');
});

test('without Java, npm start says what to install and exits 1', () => {
  const bin = mkdtempSync(join(tmpdir(), 'otpgate-nojava-'));
  symlinkSync(process.execPath, join(bin, 'node'));
  const result = spawnSync(join(bin, 'node'), ['node_modules/tsx/dist/cli.mjs', 'local/start.ts'], {
    env: { PATH: bin, HOME: process.env.HOME, OTPGATE_HOME: mkdtempSync(join(tmpdir(), 'otpgate-home-')) },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('DynamoDB Local needs Java 17 or newer');
  expect(result.stderr).toContain('apt-get install');
  expect(result.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
});
