import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { otpEnvironment, otpRuntime, repoRoot } from '#lib/otp-function';
import { routes } from '#lib/routes';
import { createRepository } from '#core/store/repository';
import { createProject } from '#core/tenancy/projects';
import { startLocalServices } from '../local/services';
import { bundleFile, checkAgainstCdk, dropTwilioDomains, replaceModule, type Bundle } from './build';
import { measureColdInit, TRACED, type InitTarget } from './cold-init';
import { measureFunctions } from './functions';
import { productionNode } from './node-runtime';
import { startSecretsManagerMock } from './secrets-manager-mock';
import { analyse, type BenchResult } from './analyse';
import { measureThroughput } from './throughput';
import { renderReport } from './report';

/**
 * `npm run bench`: builds every function as the stack bundles it and measures it (see
 * BENCHMARKS.md for what and why). Writes BENCHMARKS.md and BENCHMARKS.json at the repository
 * root. Options: --rounds N (cold-init samples per bundle, default 20), --parallel N (cold-init
 * processes at a time, default one per core up to 2), --warm N (warm invocations per function,
 * default 100), --seconds N (throughput run, default 10), --out DIR (where to write the report;
 * the repository root by default).
 */

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const outDir = (() => {
  const i = args.indexOf('--out');
  return i >= 0 ? args[i + 1]! : repoRoot;
})();
const rounds = option('rounds', 20);
const parallel = option('parallel', Math.min(cpus().length, 2));
const warm = option('warm', 100);
const sourceWarm = Math.min(warm, option('source-warm', 30));
const throughputSeconds = option('seconds', 10);

const started = Date.now();
const log = (line: string) => console.log(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}`);
const cacheDir = join(repoRoot, 'bench', '.cache');
const bundleDir = join(cacheDir, 'bundles');
mkdirSync(bundleDir, { recursive: true });
mkdirSync(outDir, { recursive: true });

const main = async () => {
  const load = { before: loadavg()[0]!, cores: cpus().length };
  const major = Number(/nodejs(\d+)/.exec(otpRuntime.name)?.[1]);
  const node = productionNode(major, cacheDir);
  log(`Node ${node.version}${node.fallback ? ` (fallback: ${node.fallback})` : ''}, runtime ${otpRuntime.name}, NODE_OPTIONS "${otpEnvironment.NODE_OPTIONS ?? ''}"`);

  // 1. Bundles: every function of the stack, the floors, and the SMS function with each Twilio option.
  const twilioModule = '#core/delivery/twilio-messages';
  const functionEntries = [...routes.map((r) => ({ id: r.id, entry: r.entry, email: r.needs.includes('send:email') })), { id: 'SigningKeyRotation', entry: 'functions/rotate-signing-key.ts', email: false }];
  const bundles = new Map<string, Bundle>();
  // Built concurrently (esbuild's own service), stored in a fixed order.
  for (const b of await Promise.all(functionEntries.map((f) => bundleFile(f.id, f.entry, bundleDir)))) bundles.set(b.name, b);
  const floors = {
    'floor:table+secrets': 'bench/floor/table-secrets.ts',
    'floor:table+secrets+ses': 'bench/floor/table-secrets-email.ts',
    'floor:secrets': 'bench/floor/secrets.ts',
    'floor:table+secrets+tracer': 'bench/floor/table-secrets-traced.ts',
  };
  const floorBundles = await Promise.all(Object.entries(floors).map(async ([name, entry]) => [name, await bundleFile(name.replace(/[:+]/g, '-'), entry, bundleDir)] as const));
  for (const [name, b] of floorBundles) bundles.set(name, b);
  const options = {
    'twilio:full-sdk': [replaceModule(twilioModule, 'bench/twilio-options/sdk.ts')],
    'twilio:deep-imports': [replaceModule(twilioModule, 'bench/twilio-options/sdk-deep.ts')],
    'twilio:plugin-drops-domains': [replaceModule(twilioModule, 'bench/twilio-options/sdk.ts'), dropTwilioDomains],
    'twilio:direct-fetch': [replaceModule(twilioModule, 'bench/twilio-options/fetch.ts')],
  };
  const optionBundles = await Promise.all(
    Object.entries(options).map(async ([name, plugins]) => [name, await bundleFile(name.replace(/[:+]/g, '-'), 'functions/mobile-otp-signup.ts', bundleDir, plugins)] as const),
  );
  for (const [name, b] of optionBundles) bundles.set(name, b);
  const raw = await bundleFile('raw-calls', 'bench/raw-calls.ts', bundleDir);
  log(`built ${bundles.size} bundles`);
  const fidelity = { entry: 'functions/mobile-otp-verify.ts', ...checkAgainstCdk('functions/mobile-otp-verify.ts', bundles.get('MobileOtpVerify')!) };
  log(`CDK's own bundle of ${fidelity.entry} is ${fidelity.identical ? 'identical to' : 'DIFFERENT from'} ours`);

  const secretIds = { pepper: 'otpgate/bench/pepper', signingKey: 'otpgate/bench/signing-key', twilio: 'otpgate/bench/twilio' };
  const lambdaEnv = {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_EXECUTION_ENV: `AWS_Lambda_${otpRuntime.name}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    // Set by the stack on every function (the service of every log line, metric and trace).
    POWERTOOLS_SERVICE_NAME: 'otpgate-bench',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    DEFAULT_COUNTRY_CODE: '+91',
    SENDER_EMAIL: 'codes@bench.otpgate.test',
    PUBLIC_BASE_URL: 'https://bench.otpgate.test',
    PEPPER_SECRET_ID: secretIds.pepper,
    SIGNING_KEY_SECRET_ID: secretIds.signingKey,
    TWILIO_SECRET_ID: secretIds.twilio,
    TABLE_NAME: 'otpgate-bench',
  };

  // 2. Cold init, interleaved.
  const tracingEnv = { OTPGATE_TRACING: 'active' };
  const deployed = otpEnvironment.NODE_OPTIONS ?? '';
  const floorOf = (f: { id: string; email: boolean }) => (f.id === 'SigningKeyRotation' ? 'floor:secrets' : f.email ? 'floor:table+secrets+ses' : 'floor:table+secrets');
  const targets: InitTarget[] = [
    ...[...bundles].map(([name, b]) => ({ name, file: b.file, nodeOptions: deployed })),
    // What deploys by default: the stack turns X-Ray tracing on, and the functions then load the tracer at init.
    ...functionEntries.map((f) => ({ name: `${f.id}${TRACED}`, file: bundles.get(f.id)!.file, nodeOptions: deployed, env: tracingEnv })),
    // The same bundles started with and without --enable-source-maps, to price the flag.
    // (Two bundles: the decision is made and the README records it; the price is still shown.)
    ...['MobileOtpSignup', 'floor:table+secrets'].map((name) => ({
      name: `${name} (${deployed.includes('--enable-source-maps') ? 'without' : 'with'} --enable-source-maps)`,
      file: bundles.get(name)!.file,
      nodeOptions: deployed.includes('--enable-source-maps') ? deployed.replace('--enable-source-maps', '').trim() : `${deployed} --enable-source-maps`.trim(),
    })),
  ];
  log(`cold init: ${rounds} rounds x ${targets.length} bundles, ${parallel} at a time`);
  const coldInit = await measureColdInit(targets, { node: node.path, rounds, parallel, env: lambdaEnv, onRound: (r) => r % 5 === 0 && log(`  round ${r}/${rounds}`) });

  // 3. The functions in-process against DynamoDB Local, SES local, the local Twilio endpoint and a mocked Secrets Manager.
  const secretsDir = mkdtempSync(join(tmpdir(), 'otpgate-bench-secrets-'));
  const services = await startLocalServices({ secretsDir, tableName: lambdaEnv.TABLE_NAME });
  const read = (name: string) => readFileSync(join(secretsDir, name), 'utf8');
  const sm = await startSecretsManagerMock({ [secretIds.pepper]: read('pepper'), [secretIds.signingKey]: read('signing-key'), [secretIds.twilio]: read('twilio') });
  try {
    Object.assign(process.env, services.env, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const whatsappConfigUid = '5a706684-851f-3a27-b0d1-284155d8f862';
    // Every abuse limit on, at its default, except where the bench's own volume would trip it:
    // the resend cooldown is 10 s (on, and short so one run can send to a number again, yet longer
    // than a send's delivery hold, 9 s at most here: a send then writes what it writes with the
    // default 30 s, no extra write to end the hold), and the project spend caps are high (on:
    // every send still takes its sharded counter).
    const resendCooldownSeconds = 10;
    const settings = {
      appName: 'bench',
      resendCooldownSeconds,
      smsPerHour: 1_000_000,
      smsPerDay: 10_000_000,
      whatsappPerHour: 1_000_000,
      whatsappPerDay: 10_000_000,
      sendsPerCountryPerHour: 1_000_000,
      whatsappConfigs: { [whatsappConfigUid]: { from: '+14155238886' } },
    };
    const created = await createProject(createRepository(doc, lambdaEnv.TABLE_NAME), { projectId: 'bench', environments: ['production'], settings });
    const twilio = JSON.parse(read('twilio')) as { accountSid: string; authToken: string; from: string };
    const childEnv = {
      ...lambdaEnv,
      AWS_ENDPOINT_URL_DYNAMODB: services.env.AWS_ENDPOINT_URL_DYNAMODB!,
      AWS_ENDPOINT_URL_SESV2: services.env.AWS_ENDPOINT_URL_SESV2!,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url,
      TWILIO_API_BASE_URL: services.twilioUrl,
      LOG_LEVEL: 'info',
    };
    log(`functions: first + ${warm} warm invocations each, from bundles and from sources`);
    const { runs: functions, cacheVariants, sourceMaps, firstVerifies } = await measureFunctions({
      node: node.path,
      nodeOptions: deployed,
      bundleDir,
      rawModule: raw.file,
      env: childEnv,
      secretsManagerUrl: sm.url,
      twilioUrl: services.twilioUrl,
      sesUrl: services.sesUrl,
      twilio,
      senderEmail: lambdaEnv.SENDER_EMAIL,
      resendCooldownSeconds,
      project: { projectId: 'bench', environment: 'production', appKey: created.keys[0]!.appKey, whatsappConfigUid },
      warm,
      sourceWarm,
      log,
    });

    // 4. Throughput of the local stack (npm start's server) under a fixed load.
    log(`throughput: ${throughputSeconds} s of sign-in flows`);
    const throughput = await measureThroughput({ node: node.path, env: childEnv, services, twilio, seconds: throughputSeconds, log });

    const result: BenchResult = analyse({
      startedAt: new Date(started).toISOString(),
      durationSeconds: 0,
      machine: { cores: load.cores, loadBefore: load.before, loadAfter: loadavg()[0]!, cpu: cpus()[0]?.model ?? 'unknown' },
      node,
      runtime: otpRuntime.name,
      nodeOptions: deployed,
      rounds,
      warm,
      fidelity,
      bundles: [...bundles].map(([name, b]) => ({ name, bytes: b.bytes, mapBytes: b.mapBytes })),
      floorOf: Object.fromEntries(functionEntries.map((f) => [f.id, floorOf(f)])),
      coldInit: Object.fromEntries(coldInit),
      functions,
      cacheVariants,
      firstVerifies,
      sourceMapRuns: sourceMaps,
      parallel,
      throughput,
    });
    (result as { durationSeconds: number }).durationSeconds = Math.round((Date.now() - started) / 1000);
    writeFileSync(join(outDir, 'BENCHMARKS.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(outDir, 'BENCHMARKS.md'), renderReport(result));
    log(`wrote BENCHMARKS.md and BENCHMARKS.json in ${result.durationSeconds} s`);
  } finally {
    await sm.close();
    await services.stop();
    rmSync(secretsDir, { recursive: true, force: true });
  }
};

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
