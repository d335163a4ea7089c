import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { repoRoot } from '#lib/otp-function';
import { routes } from '#lib/routes';
import { readInbox } from '../local/inbox';
import { apiEvent, uniqueEmail, uniqueMobile } from './events';
import type { RawCall, RawPlan } from './raw-calls';
import type { RecordedCall } from './record-sdk';

/**
 * Runs every HTTP function in-process in a fresh Node process, twice: from its bundle as deployed
 * (the production Node, the deployed NODE_OPTIONS, Secrets Manager mocked over its wire protocol)
 * and from its sources under tsx with an SDK middleware recording every AWS call. The requests
 * follow real sign-in flows against DynamoDB Local with every abuse limit on: sign up, log in,
 * verify the code that arrived in the local inbox, refresh, log out, and the same for the other
 * styles, each sample with its own phone number, address and client IP.
 */

export interface Sample {
  readonly ms: number;
  readonly cpuMs: number;
  readonly status: number;
  readonly body?: string;
  readonly calls?: RecordedCall[];
  readonly plan?: RawPlan;
}

export interface ProbeResult {
  readonly initMs: number;
  readonly samples: Sample[];
  readonly raw: number[];
  readonly secretsManager: { readonly coldStart: number; readonly warm: number; readonly warmRequests: number; readonly coldStartIds: readonly string[] };
  readonly rss: number;
  readonly logBytes: number;
}

export interface RouteRun {
  readonly route: string;
  readonly expectedStatus: number;
  readonly sources: ProbeResult;
  readonly bundle: ProbeResult;
}

export interface SourceMapRun {
  readonly label: string;
  readonly route: string;
  readonly result: ProbeResult;
}

export interface FirstVerifyRun {
  readonly route: string;
  readonly result: ProbeResult;
}

export interface CacheVariantRun {
  readonly variant: string;
  readonly route: string;
  readonly result: ProbeResult;
}

export interface FunctionsContext {
  readonly node: string;
  readonly nodeOptions: string;
  readonly bundleDir: string;
  readonly rawModule: string;
  readonly env: Record<string, string>;
  readonly secretsManagerUrl: string;
  readonly twilioUrl: string;
  readonly sesUrl: string;
  readonly twilio: { readonly accountSid: string; readonly authToken: string; readonly from: string };
  readonly senderEmail: string;
  /** The project's resend cooldown: a send to an address waits it out after the previous one. */
  readonly resendCooldownSeconds: number;
  readonly project: { readonly projectId: string; readonly environment: string; readonly appKey: string; readonly whatsappConfigUid: string };
  /** Warm invocations per function from its bundle (the first invocation comes on top). */
  readonly warm: number;
  /** Warm invocations from its sources: enough to count calls and record the raw plans the bundle run replays. */
  readonly sourceWarm: number;
  readonly log: (line: string) => void;
}

type Mode = 'sources' | 'bundle';
const MODES: readonly Mode[] = ['sources', 'bundle'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const entryOf = (routeId: string): string => {
  const route = routes.find((r) => r.id === routeId);
  if (!route) throw new Error(`bench: no route ${routeId}`);
  return route.entry;
};

export const runProbe = async (
  ctx: FunctionsContext,
  routeId: string,
  mode: Mode,
  events: APIGatewayProxyEventV2[],
  options: { keepBodies?: boolean; rawPlans?: (RawPlan | undefined)[]; delivery?: RawCall; nodeOptions?: string; extraEnv?: Record<string, string> },
): Promise<ProbeResult> => {
  const dir = mkdtempSync(join(tmpdir(), 'otpgate-bench-probe-'));
  try {
    const jobFile = join(dir, 'job.json');
    const resultFile = join(dir, 'result.json');
    writeFileSync(
      jobFile,
      JSON.stringify({
        name: routeId,
        module: mode === 'bundle' ? join(ctx.bundleDir, routeId, 'index.mjs') : join(repoRoot, entryOf(routeId)),
        rawModule: ctx.rawModule,
        events,
        keepBodies: options.keepBodies ?? false,
        keepPlans: mode === 'sources',
        rawPlans: mode === 'bundle' ? options.rawPlans : undefined,
        delivery: options.delivery,
        secretsManagerUrl: ctx.secretsManagerUrl,
      }),
    );
    const args =
      mode === 'bundle'
        ? [join(repoRoot, 'bench/probe-invoke.mjs'), jobFile, resultFile]
        : ['--import', 'tsx', '--import', './bench/record-sdk.ts', join(repoRoot, 'bench/probe-invoke.mjs'), jobFile, resultFile];
    const child = spawn(ctx.node, args, {
      cwd: repoRoot,
      env: { ...ctx.env, ...options.extraEnv, NODE_OPTIONS: options.nodeOptions ?? ctx.nodeOptions, AWS_LAMBDA_FUNCTION_NAME: routeId },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The function's log lines (stdout and stderr, as Lambda sends both to CloudWatch): their volume is priced.
    let logBytes = 0;
    child.stdout.on('data', (chunk: Buffer) => (logBytes += chunk.length));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      logBytes += chunk.length;
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    if (code !== 0) throw new Error(`bench: ${routeId} (${mode}) exited with ${code}:\n${stderr}`);
    return { ...(JSON.parse(readFileSync(resultFile, 'utf8')) as ProbeResult), logBytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

/** The newest code sent to each recipient, from the local inbox. */
const latestCodes = async (ctx: FunctionsContext): Promise<Map<string, string>> => {
  const codes = new Map<string, string>();
  for (const message of await readInbox({ twilioUrl: ctx.twilioUrl, sesUrl: ctx.sesUrl })) {
    if (message.code !== null && !codes.has(message.to)) codes.set(message.to, message.code);
  }
  return codes;
};

const codeFor = (codes: Map<string, string>, to: string): string => {
  const code = codes.get(to);
  if (code === undefined) throw new Error(`bench: no code arrived for ${to}`);
  return code;
};

export const measureFunctions = async (
  ctx: FunctionsContext,
): Promise<{ runs: RouteRun[]; cacheVariants: CacheVariantRun[]; sourceMaps: SourceMapRun[]; firstVerifies: FirstVerifyRun[] }> => {
  const { projectId, environment, appKey, whatsappConfigUid } = ctx.project;
  const base = `/auth/${projectId}/${environment}`;
  const tenantPath = { projectId, environment };
  const sizes: Record<Mode, number> = { sources: ctx.sourceWarm + 1, bundle: ctx.warm + 1 };
  const mobiles = Object.fromEntries(MODES.map((m) => [m, Array.from({ length: sizes[m] }, uniqueMobile)])) as Record<Mode, string[]>;
  const emails = Object.fromEntries(MODES.map((m) => [m, Array.from({ length: sizes[m] }, uniqueEmail)])) as Record<Mode, string[]>;
  const runs: RouteRun[] = [];
  const bodies: Record<string, Record<Mode, string[]>> = {};
  /** When each identifier set was last sent a code (the run's start): the next send waits out the resend cooldown, with slack for a run that goes faster. */
  const lastSend = new Map<string, number>();

  const smsDelivery: RawCall = {
    service: 'twilio',
    url: `${ctx.twilioUrl}/2010-04-01/Accounts/${ctx.twilio.accountSid}/Messages.json`,
    authorization: `Basic ${Buffer.from(`${ctx.twilio.accountSid}:${ctx.twilio.authToken}`).toString('base64')}`,
    form: new URLSearchParams({ To: '+919800000000', From: ctx.twilio.from, Body: '123456 is your otpgate code. It expires in 5 minutes. Do not share it.' }).toString(),
  };
  const emailDelivery: RawCall = {
    service: 'sesv2',
    input: {
      FromEmailAddress: ctx.senderEmail,
      Destination: { ToAddresses: ['raw@example.com'] },
      Content: { Simple: { Subject: { Data: 'Your otpgate code', Charset: 'UTF-8' }, Body: { Text: { Data: '123456 is your otpgate code.', Charset: 'UTF-8' } } } },
    },
  };

  const measure = async (
    routeId: string,
    expectedStatus: number,
    eventsFor: (mode: Mode) => APIGatewayProxyEventV2[] | Promise<APIGatewayProxyEventV2[]>,
    options: { keepBodies?: boolean; delivery?: RawCall; sends?: string } = {},
  ) => {
    const results = {} as Record<Mode, ProbeResult>;
    for (const mode of MODES) {
      const key = `${options.sends}:${mode}`;
      if (options.sends !== undefined) {
        const wait = (lastSend.get(key) ?? 0) + ctx.resendCooldownSeconds * 1000 + 2000 - Date.now();
        if (wait > 0) await sleep(wait);
        lastSend.set(key, Date.now());
      }
      const events = await eventsFor(mode);
      // The bundle replays the plans its source run recorded, in turn (the requests are alike).
      const plans = results.sources?.samples.map((s) => s.plan) ?? [];
      const rawPlans = mode === 'bundle' ? events.map((_, i) => plans[i % plans.length]) : undefined;
      results[mode] = await runProbe(ctx, routeId, mode, events, { keepBodies: options.keepBodies, delivery: options.delivery, rawPlans });
      if (options.keepBodies) (bodies[routeId] ??= {} as Record<Mode, string[]>)[mode] = results[mode].samples.map((s) => s.body ?? '');
      const unexpected = results[mode].samples.filter((s) => s.status !== expectedStatus).length;
      ctx.log(`  ${routeId} (${mode}): first ${results[mode].samples[0]!.ms.toFixed(1)} ms${unexpected ? `, ${unexpected} unexpected answers` : ''}`);
    }
    // Plans are only needed to hand from the source run to the bundle runs (EmailOtpLogin's again below).
    if (routeId !== 'EmailOtpLogin') for (const mode of MODES) for (const s of results[mode].samples) delete (s as { plan?: RawPlan }).plan;
    runs.push({ route: routeId, expectedStatus, sources: results.sources, bundle: results.bundle });
  };

  const post = (path: string, body: unknown, headers: Record<string, string>, pathParameters: Record<string, string> = tenantPath) =>
    apiEvent({ rawPath: path, pathParameters, body, headers });
  const withKey = { 'app-key': appKey };
  const withApiKey = { 'x-api-key': appKey };
  const json = (routeId: string, mode: Mode) => (bodies[routeId]?.[mode] ?? []).map((b) => JSON.parse(b) as Record<string, unknown>);

  /**
   * The first verify after a signup, which also marks the user verified (one more item in its
   * transaction): run once from the sources for every address, so the login measured next is a
   * returning user's, as most sign-ins are. Its counts are reported beside the measured verify's.
   */
  const firstVerifies: FirstVerifyRun[] = [];
  const verifySignups = async (routeId: string, events: (codes: Map<string, string>) => APIGatewayProxyEventV2[]) => {
    const result = await runProbe(ctx, routeId, 'sources', events(await latestCodes(ctx)), {});
    for (const sample of result.samples) delete (sample as { plan?: RawPlan }).plan;
    firstVerifies.push({ route: routeId, result });
    ctx.log(`  ${routeId} (sources, first verify after signup)${result.samples.some((x) => x.status !== 200) ? ': unexpected answers' : ''}`);
  };

  // The mobile/email style: sign up, verify the signup code, log in again later, verify the login code, refresh, log out.
  await measure('MobileOtpSignup', 201, (m) => mobiles[m].map((mobile) => post(`${base}/mobile-otp-signup`, { country_code: '+91', mobile }, withKey)), { delivery: smsDelivery, sends: 'mobile' });
  await verifySignups('MobileOtpVerify', (codes) => MODES.flatMap((m) => mobiles[m].map((mobile) => post(`${base}/mobile-otp-verify`, { mobile, otp_code: codeFor(codes, `+91${mobile}`) }, withKey))));
  await measure('MobileOtpLogin', 200, (m) => mobiles[m].map((mobile) => post(`${base}/mobile-otp-login`, { mobile }, withKey)), { delivery: smsDelivery, sends: 'mobile' });
  await measure('MobileOtpVerify', 200, async (m) => {
    const codes = await latestCodes(ctx);
    return mobiles[m].map((mobile) => post(`${base}/mobile-otp-verify`, { mobile, otp_code: codeFor(codes, `+91${mobile}`) }, withKey));
  }, { keepBodies: true });
  await measure('TokenRefresh', 200, (m) => json('MobileOtpVerify', m).map((b) => post(`${base}/token/refresh`, { refresh_token: b.refresh_token }, withKey)));
  await measure('Logout', 200, (m) =>
    json('MobileOtpVerify', m).map((b) => post(`${base}/logout`, {}, { ...withKey, authorization: `Bearer ${String(b.access_token)}` })),
  );

  await measure('EmailOtpSignup', 201, (m) => emails[m].map((email) => post(`${base}/email-otp-signup`, { email }, withKey)), { delivery: emailDelivery, sends: 'email' });
  await verifySignups('EmailOtpVerify', (codes) => MODES.flatMap((m) => emails[m].map((email) => post(`${base}/email-otp-verify`, { email, otp_code: codeFor(codes, email) }, withKey))));
  await measure('EmailOtpLogin', 200, (m) => emails[m].map((email) => post(`${base}/email-otp-login`, { email }, withKey)), { delivery: emailDelivery, sends: 'email' });
  await measure('EmailOtpVerify', 200, async (m) => {
    const codes = await latestCodes(ctx);
    return emails[m].map((email) => post(`${base}/email-otp-verify`, { email, otp_code: codeFor(codes, email) }, withKey));
  });

  // The verification-id style, for the same (registered) numbers: send, then authenticate.
  await measure('SendVerificationCode', 200, (m) => mobiles[m].map((mobile) => post('/v1/send-verification-code', { phoneNumber: `+91${mobile}` }, withApiKey, {})), { delivery: smsDelivery, sends: 'mobile' });
  await measure('UserAuthenticate', 200, async (m) => {
    const codes = await latestCodes(ctx);
    return mobiles[m].map((mobile) =>
      post('/v1/user/authenticate', { idType: 'smsVerificationCode', phoneNumber: `+91${mobile}`, verificationCode: codeFor(codes, `+91${mobile}`) }, withApiKey, {}),
    );
  });

  // The WhatsApp style: sendOTP with the project's configuration, verifyOTP by the id it returned.
  await measure(
    'WhatsappSendOtp',
    201,
    (m) => mobiles[m].map((mobile) => post(`/otp/${whatsappConfigUid}/sendOTP`, { name: 'Bench', mobileNumber: mobile, countryCode: '+91' }, withApiKey, { otpId: whatsappConfigUid })),
    { keepBodies: true, delivery: smsDelivery, sends: 'mobile' },
  );
  await measure('WhatsappVerifyOtp', 200, async (m) => {
    const codes = await latestCodes(ctx);
    const ids = json('WhatsappSendOtp', m).map((b) => String(b.id));
    return mobiles[m].map((mobile, i) =>
      post(`/otp/${ids[i]}/verifyOTP`, { otp: codeFor(codes, `+91${mobile}`), mobileNumber: mobile, countryCode: '+91' }, withApiKey, { otpId: ids[i]! }),
    );
  });

  const get = (path: string) => apiEvent({ method: 'GET', rawPath: `${base}/${path}`, pathParameters: tenantPath });
  await measure('Jwks', 200, (m) => Array.from({ length: sizes[m] }, () => get('.well-known/jwks.json')));
  await measure('OpenidConfiguration', 200, (m) => Array.from({ length: sizes[m] }, () => get('.well-known/openid-configuration')));

  // Warm latency with and without --enable-source-maps, on the function the issue found slowest
  // as a bundle: the same registered addresses logging in again, the two halves back to back.
  const sourceMaps: SourceMapRun[] = [];
  const half = Math.floor(emails.bundle.length / 2);
  const emailPlans = runs.find((r) => r.route === 'EmailOtpLogin')?.sources.samples ?? [];
  await sleep(Math.max(0, (lastSend.get('email:bundle') ?? 0) + ctx.resendCooldownSeconds * 1000 + 2000 - Date.now()));
  for (const [label, nodeOptions, slice] of [
    ['with --enable-source-maps', `${ctx.nodeOptions} --enable-source-maps`.trim(), emails.bundle.slice(0, half)],
    ['without', ctx.nodeOptions.replace('--enable-source-maps', '').trim(), emails.bundle.slice(half)],
  ] as const) {
    const events = slice.map((email) => post(`${base}/email-otp-login`, { email }, withKey));
    const result = await runProbe(ctx, 'EmailOtpLogin', 'bundle', events, { nodeOptions, delivery: emailDelivery, rawPlans: events.map((_, i) => emailPlans[i % emailPlans.length]?.plan) });
    sourceMaps.push({ label, route: 'EmailOtpLogin', result });
    ctx.log(`  EmailOtpLogin (bundle, ${label})`);
  }

  // Tenant lookups with and without a container cache in front of them (emulated at the SDK, see
  // record-sdk.ts), on logout: one access token logged out again and again (logging out twice is
  // fine), so every request is the same tenant resolution plus one write.
  const [session] = json('MobileOtpVerify', 'sources');
  const cacheVariants: CacheVariantRun[] = [];
  // 'none': as built (APP-KEYs cached by functions/core/tenancy/key-cache.ts); 'projects': a project cache emulated on top.
  for (const variant of ['none', 'projects']) {
    const events = Array.from({ length: sizes.sources }, () => post(`${base}/logout`, {}, { ...withKey, authorization: `Bearer ${String(session?.access_token)}` }));
    const result = await runProbe(ctx, 'Logout', 'sources', events, { extraEnv: variant === 'none' ? {} : { BENCH_EMULATE_CACHE: variant } });
    for (const sample of result.samples) delete (sample as { plan?: RawPlan }).plan;
    cacheVariants.push({ variant, route: 'Logout', result });
    ctx.log(`  Logout with cached lookups: ${variant}`);
  }
  for (const s of emailPlans) delete (s as { plan?: RawPlan }).plan;
  return { runs, cacheVariants, sourceMaps, firstVerifies };
};
