import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createTenantResolver } from '#core/http/route';
import { runtime } from '#core/runtime';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { KEY_CACHE_TTL_MS } from '#core/tenancy/key-cache';
import { commands } from '../../cli/commands';
import { handler as emailSignup } from '../../functions/email-otp-signup';
import { handler as signup, makeHandler as makeSignup } from '../../functions/mobile-otp-signup';
import { handler as verify } from '../../functions/mobile-otp-verify';
import { handler as login } from '../../functions/mobile-otp-login';
import { handler as refresh } from '../../functions/token-refresh';
import { parseKeyMaterial, publishedSeeds } from '#core/tokens/signing-keys';
import { jest } from '@jest/globals';
import twilio from 'twilio';
import { localStackHome, oneLineError, otpgateIn, otpgateInProcess, run } from '../support/cli';
import { call, event, inbox, latestCode, uniqueEmail, uniqueIndianMobile } from '../support/harness';
import { startTestApi } from '../support/local-api';

/**
 * `npx otpgate` driven as a user drives it: with no flags and no AWS variables, finding the stack
 * through OTPGATE_HOME/local.json (here pointing at the run's DynamoDB Local), and its effect
 * checked through the real handlers. `spawned` runs the bin in its own process (what the exit
 * status, the environment and the one-line errors are about); `otpgate` runs the same command
 * lines in-process, because each new process costs seconds.
 */

jest.setTimeout(120_000);

const home = localStackHome();
const spawned = otpgateIn({ OTPGATE_HOME: home });
const otpgate = otpgateInProcess({ OTPGATE_HOME: home });
const newId = () => `cli-${randomBytes(4).toString('hex')}`;

const json = <T = any>(result: { code: number; stdout: string; stderr: string }): T => {
  if (result.code !== 0) throw new Error(`otpgate failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
};

interface Created {
  projectId: string;
  keys: { environment: string; appKey: string; keyId: string; baseUrl?: string }[];
}

const createProject = async (...args: string[]) => json<Created>(await otpgate('projects', 'create', newId(), ...args, '--json'));

const rt = runtime();
const sender = twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl });
/** A mobile signup function as one Lambda container runs it, with its own key cache and clock. */
const container = (now: () => number = Date.now) => makeSignup({ ...rt, sender, tenants: createTenantResolver(rt.repo, '+91', { now }) });

const signupWith = (handler: typeof signup, tenant: { projectId: string; environment: string }, appKey: string, mobile = uniqueIndianMobile()) =>
  call(handler, event(tenant, { appKey, body: { country_code: '+91', mobile } }));

describe('help and usage', () => {
  test('npx otpgate resolves the package bin and lists every command', async () => {
    const result = await run('npx', ['otpgate', '--help'], {});
    expect(result.code).toBe(0);
    for (const command of commands) expect(result.stdout).toContain(`${command.group} ${command.name}`);
    expect(result.stdout).toContain('--stack');
    expect(result.stdout).toContain('--json');
  });

  test('every command and every group has --help, which needs no stack', async () => {
    const noStack = otpgateInProcess({ OTPGATE_HOME: mkdtempSync(join(tmpdir(), 'otpgate-empty-')) });
    const groups = [...new Set(commands.map((c) => c.group))];
    const results = await Promise.all([
      ...commands.map(async (c) => ({ c, r: await noStack(c.group, c.name, '--help') })),
      ...groups.map(async (g) => ({ c: { group: g, name: '' }, r: await noStack(g, '--help') })),
    ]);
    for (const { c, r } of results) {
      expect({ command: `${c.group} ${c.name}`, code: r.code }).toEqual({ command: `${c.group} ${c.name}`, code: 0 });
      expect(r.stdout).toContain(c.name ? `Usage: otpgate ${c.group} ${c.name}` : `otpgate ${c.group} `);
    }
  });

  test('a wrong command line exits 2 with one line pointing at the help', async () => {
    const [unknown, missing, option] = await Promise.all([spawned('projects', 'delete', 'x'), otpgate('keys', 'create', 'acme'), otpgate('projects', 'list', '--colour')]);
    for (const result of [unknown, missing, option]) expect(result.code).toBe(2);
    expect(oneLineError(unknown)).toMatch(/unknown command "projects delete".*otpgate projects --help/);
    expect(oneLineError(missing)).toMatch(/missing <env>.*otpgate keys create --help/);
    expect(oneLineError(option)).toContain('unknown option --colour');
  });
});

describe('where it points', () => {
  test('with no local stack running, it says so in one line', async () => {
    const none = await otpgateIn({ OTPGATE_HOME: mkdtempSync(join(tmpdir(), 'otpgate-empty-')) })('projects', 'list');
    expect(none.code).toBe(1);
    expect(oneLineError(none)).toMatch(/local stack is not running.*npm start/);
    // A local.json left behind by a stack that is gone: DynamoDB Local's old port answers nothing.
    const stale = await otpgateInProcess({ OTPGATE_HOME: localStackHome({ dynamoEndpoint: 'http://127.0.0.1:9' }) })('projects', 'list');
    expect(stale.code).toBe(1);
    expect(oneLineError(stale)).toMatch(/local stack is not running \(nothing answers at http:\/\/127\.0\.0\.1:9\)/);
  });

  test('against a deployed stack, a missing region or missing credentials is a sentence saying what to set', async () => {
    // No AWS variables, and a HOME without ~/.aws: nothing to find a region or credentials in.
    const bare = { HOME: mkdtempSync(join(tmpdir(), 'otpgate-nohome-')), AWS_EC2_METADATA_DISABLED: 'true' };
    const noRegion = await otpgateIn(bare)('projects', 'list', '--stack');
    expect(noRegion.code).toBe(1);
    const regionLine = oneLineError(noRegion);
    expect(regionLine).toContain('AWS_REGION');
    expect(regionLine).not.toContain('Region is missing');
    const noCredentials = await otpgateIn({ ...bare, AWS_REGION: 'eu-west-1' })('keys', 'list', 'acme', '--stack', 'OtpGate');
    expect(noCredentials.code).toBe(1);
    expect(oneLineError(noCredentials)).toMatch(/no AWS credentials.*AWS_PROFILE/);
  });
});

describe('projects and settings', () => {
  test('a project created with no flags has keys that work, and a settings change applies to the next request of a warm function', async () => {
    const projectId = newId();
    const text = await spawned('projects', 'create', projectId, '--name', 'Second');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/development\s+APP-KEY og_/);
    expect(text.stdout).toContain(`Base URL http://localhost:3999/auth/${projectId}/production`);
    expect(text.stdout).toContain('Store these keys now');
    const appKey = /development\s+APP-KEY (og_\S+)/.exec(text.stdout)![1]!;
    const tenant = { projectId, environment: 'development' };

    const mobile = uniqueIndianMobile();
    expect((await signupWith(signup, tenant, appKey, mobile)).status).toBe(201);
    expect((await inbox(`+91${mobile}`))[0]!.code).toMatch(/^\d{6}$/);

    expect((await spawned('settings', 'set', projectId, 'codeLength=8')).code).toBe(0);
    const next = uniqueIndianMobile();
    expect((await signupWith(signup, tenant, appKey, next)).status).toBe(201); // the same, warm handler
    expect((await inbox(`+91${next}`))[0]!.code).toMatch(/^\d{8}$/);

    const listed = json<{ projectId: string; name: string; environments: string[] }[]>(await spawned('projects', 'list', '--json'));
    expect(listed.find((p) => p.projectId === projectId)).toMatchObject({ name: 'Second', environments: ['development', 'production'] });
    const shown = json<{ settings: Record<string, unknown>; defaults: Record<string, unknown> }>(await otpgate('settings', 'show', projectId, '--json'));
    expect(shown.settings).toEqual({ codeLength: 8 });
    expect(shown.defaults).toMatchObject({ codeLength: 6, otpTtlSeconds: 300 });
  });

  test('a wrong setting is refused, naming the field, and nothing is written', async () => {
    const { projectId } = await createProject('--settings', '{"appName":"Before"}');
    const cases: [string[], RegExp][] = [
      [['codeLength=3'], /codeLength: must be at least 6 \(got 3\)/],
      [['codelength=8'], /codelength: unknown setting; did you mean codeLength\?/],
      [['smsTemplate=Your code'], /smsTemplate: must contain \{code\}/],
      [['smsTemplate={code} for {name}'], /smsTemplate: has an unknown placeholder \{name\}/],
      [['allowedCountries=["IN","usa"]'], /allowedCountries\[1\]: must hold ISO 3166-1 alpha-2/],
      [['webOtpDomain=https://acme.example/'], /webOtpDomain: must be a host name/],
      [['otpTtlSeconds=ten'], /otpTtlSeconds: must be a number \(got "ten"\)/],
      // One good value next to a bad one: still nothing is saved.
      [['appName=After', 'maxAttempts=99'], /maxAttempts: must be at most 20/],
    ];
    const results = await Promise.all(cases.map(([args], i) => (i === 0 ? spawned : otpgate)('settings', 'set', projectId, ...args)));
    results.forEach((result, i) => {
      expect(result.code).toBe(1);
      expect(oneLineError(result)).toMatch(cases[i]![1]);
    });
    expect(json(await otpgate('settings', 'show', projectId, '--json')).settings).toEqual({ appName: 'Before' });
    const created = await otpgate('projects', 'create', newId(), '--settings', '{"codeLength":11}');
    expect(oneLineError(created)).toContain('codeLength: must be at most 10');
  });

  test('templates, the WebOTP line and the email sender name reach the messages; unset goes back to the defaults', async () => {
    const { projectId, keys } = await createProject('--env', 'live');
    const tenant = { projectId, environment: 'live' };
    const appKey = keys[0]!.appKey;
    const set = await otpgate(
      'settings', 'set', projectId,
      'appName=Acme', 'smsTemplate=Your {app} code: {code} ({minutes} min)', 'webOtpDomain=Auth.Acme.Example',
      'emailFromName=Acme Support', 'emailSubject={code} is your {app} code', 'otpTtlSeconds=120',
    );
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('apply from the next request');

    const mobile = uniqueIndianMobile();
    expect((await signupWith(signup, tenant, appKey, mobile)).status).toBe(201);
    const [sms] = await inbox(`+91${mobile}`);
    expect(sms!.body).toBe(`Your Acme code: ${sms!.code} (2 min)\n\n@auth.acme.example #${sms!.code}`);

    const email = uniqueEmail();
    expect((await call(emailSignup, event(tenant, { appKey, body: { email } }))).status).toBe(201);
    const [mail] = await inbox(email);
    expect(mail!.subject).toBe(`${mail!.code} is your Acme code`);
    const store = (await (await fetch(`${process.env.AWS_ENDPOINT_URL_SESV2}/store`)).json()) as { emails: { from: string; destination: { to: string[] } }[] };
    expect(store.emails.find((e) => e.destination.to.includes(email))!.from).toBe(`"Acme Support" <${process.env.SENDER_EMAIL}>`);

    expect((await otpgate('settings', 'unset', projectId, 'smsTemplate', 'webOtpDomain')).code).toBe(0);
    const again = uniqueIndianMobile();
    await signupWith(signup, tenant, appKey, again);
    expect((await inbox(`+91${again}`))[0]!.body).toMatch(/^\d{6} is your Acme code\. It expires in 2 minutes\. Do not share it\.$/);
  });

  test('environments: a new one gets a working key; an existing one or a mistyped one is refused', async () => {
    const { projectId } = await createProject('--env', 'development');
    const added = json<{ environment: string; appKey: string }>(await otpgate('envs', 'add', projectId, 'staging', '--json'));
    expect((await signupWith(signup, { projectId, environment: 'staging' }, added.appKey)).status).toBe(201);
    const [twice, typo, listed] = await Promise.all([
      otpgate('envs', 'add', projectId, 'staging'),
      otpgate('keys', 'create', projectId, 'stagign'),
      otpgate('envs', 'list', projectId, '--json'),
    ]);
    expect(oneLineError(twice)).toContain(`${projectId} already has an environment staging`);
    expect(oneLineError(typo)).toContain(`${projectId} has no environment stagign`);
    expect(json<{ environment: string; keys: number }[]>(listed).map((e) => [e.environment, e.keys])).toEqual([['development', 1], ['staging', 1]]);
    expect(oneLineError(await otpgate('envs', 'add', 'no-such-project', 'dev'))).toContain('there is no project no-such-project');
  });
});

describe('keys', () => {
  test('keys list shows ids, environments and creation times, never a key or its hash', async () => {
    const { projectId, keys } = await createProject('--env', 'development', '--env', 'production');
    const extra = json<{ appKey: string; keyId: string }>(await otpgate('keys', 'create', projectId, 'production', '--json'));
    const [listed, text] = await Promise.all([otpgate('keys', 'list', projectId, '--json'), otpgate('keys', 'list', projectId, 'production')]);
    expect(json<unknown[]>(listed)).toEqual([
      { keyId: keys[0]!.keyId, environment: 'development', createdAt: expect.any(String) },
      { keyId: keys[1]!.keyId, environment: 'production', createdAt: expect.any(String) },
      { keyId: extra.keyId, environment: 'production', createdAt: expect.any(String) },
    ]);
    expect(text.stdout).toContain(extra.keyId);
    expect(text.stdout).not.toContain(keys[0]!.keyId); // another environment
    for (const output of [listed.stdout, text.stdout]) {
      expect(output).not.toContain('og_');
      expect(output).not.toMatch(/[0-9a-f]{64}/);
    }
  });

  test('a revoked key is refused: at once by a new container, within the key cache TTL by a warm one', async () => {
    expect(KEY_CACHE_TTL_MS).toBeLessThan(60_000); // the promise: refused everywhere within a minute
    const { projectId, keys } = await createProject('--env', 'development');
    const tenant = { projectId, environment: 'development' };
    const { appKey, keyId } = keys[0]!;
    let clock = Date.now();
    const warm = container(() => clock);
    expect((await signupWith(warm, tenant, appKey)).status).toBe(201);

    const revoked = await spawned('keys', 'revoke', projectId, keyId);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`has no key left`);
    expect((await signupWith(container(), tenant, appKey)).body.error.code).toBe('invalid_app_key');
    clock += KEY_CACHE_TTL_MS;
    expect((await signupWith(warm, tenant, appKey)).body.error.code).toBe('invalid_app_key');
    expect(json<unknown[]>(await otpgate('keys', 'list', projectId, '--json'))).toEqual([]);
    expect(oneLineError(await otpgate('keys', 'revoke', projectId, keyId))).toContain(`has no key ${keyId}`);
  });

  test('rotate: the new key works and the old one is refused; with --grace the old one works until its time is up', async () => {
    const { projectId, keys } = await createProject('--env', 'development');
    const tenant = { projectId, environment: 'development' };
    const rotated = json<{ appKey: string; keyId: string; replaced: { keyId: string } }>(await otpgate('keys', 'rotate', projectId, 'development', '--json'));
    expect(rotated.replaced).toEqual({ keyId: keys[0]!.keyId });
    expect((await signupWith(container(), tenant, rotated.appKey)).status).toBe(201);
    expect((await signupWith(container(), tenant, keys[0]!.appKey)).body.error.code).toBe('invalid_app_key');

    const before = Date.now();
    const graced = json<{ appKey: string; replaced: { keyId: string; expiresAt: string } }>(
      await otpgate('keys', 'rotate', projectId, 'development', '--grace', '10m', '--json'),
    );
    const expiresAt = Date.parse(graced.replaced.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 600_000);
    expect(expiresAt).toBeLessThan(Date.now() + 600_000 + 1000);
    expect((await signupWith(container(), tenant, rotated.appKey)).status).toBe(201); // still in its grace period
    expect((await signupWith(container(), tenant, graced.appKey)).status).toBe(201);
    const later = container(() => expiresAt);
    expect((await signupWith(later, tenant, rotated.appKey)).body.error.code).toBe('invalid_app_key');
    expect((await signupWith(later, tenant, graced.appKey)).status).toBe(201);
    expect(json<{ keyId: string; expiresAt?: string }[]>(await otpgate('keys', 'list', projectId, '--json'))).toEqual(
      expect.arrayContaining([{ keyId: rotated.keyId, environment: 'development', createdAt: expect.any(String), expiresAt: graced.replaced.expiresAt }]),
    );

    // Two live keys: which one to replace must be said.
    await otpgate('keys', 'create', projectId, 'development');
    const ambiguous = await otpgate('keys', 'rotate', projectId, 'development');
    expect(oneLineError(ambiguous)).toContain('name the one to replace with --key <key-id>');
    expect(oneLineError(await otpgate('keys', 'rotate', projectId, 'development', '--grace', 'soon'))).toContain('--grace "soon" is not a duration');
  });
});

describe("a project's own Twilio account, locally", () => {
  test('twilio set writes the secrets file (never the table) that the senders use, show hides the token, clear removes it', async () => {
    const { projectId, keys } = await createProject('--env', 'development');
    const accountSid = `AC${randomBytes(16).toString('hex')}`;
    const authToken = randomBytes(16).toString('hex');
    const set = await otpgateInProcess({ OTPGATE_HOME: home, TWILIO_AUTH_TOKEN: authToken })(
      'twilio', 'set', projectId, '--account-sid', accountSid, '--from', '+15005550006', '--whatsapp-from', 'whatsapp:+15005550006',
    );
    expect(set.code).toBe(0);
    expect(set.stdout).not.toContain(authToken);
    const file = join(process.env.OTPGATE_SECRETS_DIR!, 'projects', projectId, 'twilio');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ accountSid, authToken, from: '+15005550006', whatsappFrom: '+15005550006' });
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // The senders read what the CLI wrote: the project's SMS now go out through its own account.
    const mobile = uniqueIndianMobile();
    expect((await signupWith(signup, { projectId, environment: 'development' }, keys[0]!.appKey, mobile)).status).toBe(201);
    const sent = (await (await fetch(`${process.env.TWILIO_API_BASE_URL}/_local/messages`)).json()) as { accountSid: string; to: string }[];
    expect(sent.filter((m) => m.to === `+91${mobile}`).map((m) => m.accountSid)).toEqual([accountSid]);

    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const { Items } = await doc.send(new QueryCommand({ TableName: process.env.TABLE_NAME, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `PROJECT#${projectId}` } }));
    expect(JSON.stringify(Items)).not.toContain(authToken);

    const shown = await otpgate('twilio', 'show', projectId, '--json');
    expect(json(shown)).toMatchObject({ configured: true, accountSid, from: '+15005550006' });
    expect(shown.stdout).not.toContain(authToken);

    const bad = await otpgate('twilio', 'set', projectId, '--account-sid', 'AC123', '--auth-token', authToken, '--from', '+15005550006');
    expect(oneLineError(bad)).toContain('--account-sid must be AC followed by 32 hex digits');
    const noSender = await otpgate('twilio', 'set', projectId, '--account-sid', accountSid, '--auth-token', authToken);
    expect(oneLineError(noSender)).toContain('give --from, --messaging-service-sid or --whatsapp-from');
    expect(JSON.parse(readFileSync(file, 'utf8')).accountSid).toBe(accountSid);
    // WhatsApp only is an account the senders accept.
    expect((await otpgate('twilio', 'set', projectId, '--account-sid', accountSid, '--auth-token', authToken, '--whatsapp-from', '+15005550006')).code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ accountSid, authToken, whatsappFrom: '+15005550006' });

    expect((await otpgate('twilio', 'clear', projectId)).stdout).toContain("uses the stack's Twilio account again");
    expect(existsSync(file)).toBe(false);
    expect(json(await otpgate('twilio', 'show', projectId, '--json'))).toEqual({ projectId, configured: false });
    expect(oneLineError(await otpgate('twilio', 'set', 'no-such-project', '--account-sid', accountSid, '--auth-token', authToken, '--from', '+15005550006'))).toContain(
      'there is no project no-such-project',
    );
  });
});

describe('operator commands', () => {
  test('identifiers unlock clears a number locked by wrong codes, so its next right code verifies', async () => {
    const { projectId, keys } = await createProject('--env', 'development', '--settings', '{"maxConsecutiveFailures":2,"resendCooldownSeconds":0}');
    const tenant = { projectId, environment: 'development' };
    const appKey = keys[0]!.appKey;
    const mobile = uniqueIndianMobile();
    expect((await signupWith(signup, tenant, appKey, mobile)).status).toBe(201);
    const post = (body: unknown) => call(verify, event(tenant, { appKey, body }));
    for (let i = 0; i < 2; i += 1) expect((await post({ mobile, otp_code: '000000' === (await latestCode(`+91${mobile}`)) ? '111111' : '000000' })).status).toBe(401);
    const right = await latestCode(`+91${mobile}`);
    expect((await post({ mobile, otp_code: right })).body.error.code).toBe('too_many_failures');

    const unlocked = await otpgate('identifiers', 'unlock', projectId, 'development', `+91 ${mobile}`, '--json');
    expect(json(unlocked)).toEqual({ projectId, environment: 'development', identifier: `+91${mobile}`, cleared: true });
    expect((await post({ mobile, otp_code: right })).status).toBe(200);

    const bad = await otpgate('identifiers', 'unlock', projectId, 'development', mobile);
    expect(bad.code).toBe(2);
    expect(oneLineError(bad)).toContain('E.164');
  });

  test('identifiers remove deletes the user: login no longer finds them, their refresh token stops working, a new signup is a new user', async () => {
    const { projectId, keys } = await createProject('--env', 'development', '--settings', '{"resendCooldownSeconds":0}');
    const tenant = { projectId, environment: 'development' };
    const appKey = keys[0]!.appKey;
    const mobile = uniqueIndianMobile();
    const first = await signupWith(signup, tenant, appKey, mobile);
    const session = await call(verify, event(tenant, { appKey, body: { mobile, otp_code: await latestCode(`+91${mobile}`) } }));
    expect(session.status).toBe(200);

    const removed = await otpgate('identifiers', 'remove', projectId, 'development', `+91${mobile}`, '--json');
    expect(json(removed)).toEqual({ projectId, environment: 'development', identifier: `+91${mobile}`, removed: true });
    expect((await call(login, event(tenant, { appKey, body: { mobile } }))).body.error.code).toBe('user_not_found');
    expect((await call(refresh, event(tenant, { appKey, body: { refresh_token: session.body.refresh_token } }))).status).toBe(401);
    const again = await signupWith(signup, tenant, appKey, mobile);
    expect(again.status).toBe(201);
    expect(again.body.user_id).not.toBe(first.body.user_id);
    expect(json(await otpgate('identifiers', 'remove', projectId, 'development', `+91${mobile}`, '--json')).removed).toBe(true);
    expect(json(await otpgate('identifiers', 'remove', projectId, 'development', `+91${mobile}`, '--json')).removed).toBe(false);
  });

  test('keys rotate-signing makes a new key that the JWKS publishes beside the old one; a second rotation needs --force', async () => {
    // A secrets folder of its own: the run's other tests keep the signing key they started with.
    const secretsDir = mkdtempSync(join(tmpdir(), 'otpgate-rotate-'));
    writeFileSync(join(secretsDir, 'signing-key'), readFileSync(join(process.env.OTPGATE_SECRETS_DIR!, 'signing-key')));
    const rotating = otpgateInProcess({ OTPGATE_HOME: localStackHome({ secretsDir }) });
    const before = readFileSync(join(secretsDir, 'signing-key'), 'utf8');

    const rotated = json<{ rotated: boolean; activatesAt: string }>(await rotating('keys', 'rotate-signing', '--json'));
    expect(rotated.rotated).toBe(true);
    const after = readFileSync(join(secretsDir, 'signing-key'), 'utf8');
    expect(after).not.toBe(before);
    const published = publishedSeeds(parseKeyMaterial(after), Date.now());
    expect(published).toHaveLength(2);

    const again = await rotating('keys', 'rotate-signing');
    expect(again.code).toBe(1);
    expect(oneLineError(again)).toMatch(/--force|rotat/i);
    expect((await rotating('keys', 'rotate-signing', '--force')).code).toBe(0);
  });
});

describe('verify-services', () => {
  interface Service {
    serviceSid: string;
    accountSid: string;
    projectId: string;
    environment: string;
    friendlyName: string;
    createdAt: string;
    password: string;
    baseUrl?: string;
  }

  test('create prints what a twilio client needs, list shows it, and the twilio SDK set up with exactly that verifies a number against the local API', async () => {
    const api = await startTestApi();
    try {
      // A local stack whose recorded API URL is the running API's, as npm start records its own.
      const local = otpgateInProcess({ OTPGATE_HOME: localStackHome({ apiUrl: `http://localhost:${api.port}` }) });
      const { projectId, keys } = await createProject('--env', 'development', '--env', 'production');
      const key = (env: string) => keys.find((k) => k.environment === env)!.appKey;

      const created = await local('verify-services', 'create', projectId, 'production', '--name', 'Acme app');
      expect(created.code).toBe(0);
      expect(created.stdout).toContain(`Created Verify service "Acme app" for ${projectId}/production`);
      expect(created.stdout).toContain(`an APP-KEY of ${projectId}/production`);
      const serviceSid = /ServiceSid\s+(VA[0-9a-f]{32})\n/.exec(created.stdout)?.[1];
      const accountSid = /Account id\s+(AC[0-9a-f]{32})\s/.exec(created.stdout)?.[1];
      const baseUrl = /Base URL\s+(\S+)\s+set as client\.verify\.baseUrl/.exec(created.stdout)?.[1];
      expect({ serviceSid, accountSid, baseUrl }).toEqual({ serviceSid: expect.any(String), accountSid: expect.any(String), baseUrl: `http://localhost:${api.port}` });

      const development = json<Service>(await local('verify-services', 'create', projectId, 'development', '--json'));
      expect(development).toEqual({
        serviceSid: expect.stringMatching(/^VA[0-9a-f]{32}$/),
        accountSid: expect.stringMatching(/^AC[0-9a-f]{32}$/),
        projectId,
        environment: 'development',
        friendlyName: `${projectId} development`,
        createdAt: expect.any(String),
        password: `an APP-KEY of ${projectId}/development`,
        baseUrl: `http://localhost:${api.port}`,
      });
      expect(development.accountSid).not.toBe(accountSid); // each environment is its own account

      const all = json<Service[]>(await local('verify-services', 'list', projectId, '--json'));
      expect(all.map((s) => [s.environment, s.serviceSid, s.accountSid]).sort()).toEqual(
        [['development', development.serviceSid, development.accountSid], ['production', serviceSid, accountSid]].sort(),
      );
      const production = await local('verify-services', 'list', projectId, 'production');
      expect(production.stdout).toContain(serviceSid!);
      expect(production.stdout).toContain('Acme app');
      expect(production.stdout).not.toContain(development.serviceSid);
      for (const output of [created.stdout, production.stdout, JSON.stringify(all)]) expect(output).not.toContain('og_');

      // The twilio SDK with the printed account id, a production APP-KEY and the printed base URL: the whole Verify flow.
      const client = twilio(accountSid!, key('production'));
      client.verify.baseUrl = baseUrl!;
      const verify = client.verify.v2.services(serviceSid!);
      const to = `+91${uniqueIndianMobile()}`;
      expect(await verify.verifications.create({ to, channel: 'sms' })).toMatchObject({ serviceSid, accountSid, to, status: 'pending' });
      expect(await verify.verificationChecks.create({ to, code: await latestCode(to) })).toMatchObject({ status: 'approved', valid: true });

      // The password must be a key of the service's own environment.
      const other = twilio(accountSid!, key('development'));
      other.verify.baseUrl = baseUrl!;
      await expect(other.verify.v2.services(serviceSid!).verifications.create({ to, channel: 'sms' })).rejects.toMatchObject({ status: 401, code: 20003 });
    } finally {
      await api.close();
    }
  });

  test('--help says what the password is and where the base URL goes; a missing environment or project, or a bad --name, is one clear line', async () => {
    const help = await otpgate('verify-services', 'create', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: otpgate verify-services create <project> <env> [options]');
    expect(help.stdout).toMatch(/APP-KEY/);
    expect(help.stdout).toContain('client.verify.baseUrl');
    expect(help.stdout).toContain('--name <text>');

    const { projectId } = await createProject('--env', 'development');
    const [missingEnv, listMissingEnv, missingProject, longName, noEnvArg, none] = await Promise.all([
      spawned('verify-services', 'create', projectId, 'staging'),
      otpgate('verify-services', 'list', projectId, 'staging'),
      otpgate('verify-services', 'create', 'no-such-project', 'development'),
      otpgate('verify-services', 'create', projectId, 'development', '--name', 'x'.repeat(31)),
      otpgate('verify-services', 'create', projectId),
      otpgate('verify-services', 'list', projectId),
    ]);
    expect(missingEnv.code).toBe(1);
    expect(oneLineError(missingEnv)).toBe(`otpgate: ${projectId} has no environment staging (see otpgate envs list ${projectId})`);
    expect(oneLineError(listMissingEnv)).toBe(`otpgate: ${projectId} has no environment staging (see otpgate envs list ${projectId})`);
    expect(oneLineError(missingProject)).toContain('there is no project no-such-project');
    expect(longName.code).toBe(2);
    expect(oneLineError(longName)).toContain('--name must be 1 to 30 characters');
    expect(noEnvArg.code).toBe(2);
    expect(oneLineError(noEnvArg)).toMatch(/missing <env>.*otpgate verify-services create --help/);
    expect(none.stdout).toContain(`${projectId} has no Verify services; create one with: npx otpgate verify-services create ${projectId} <env>`);
    // Nothing was created by the failed commands.
    expect(json<unknown[]>(await otpgate('verify-services', 'list', projectId, '--json'))).toEqual([]);
  });
});
