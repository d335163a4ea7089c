import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hashAppKey } from '#core/tenancy/app-keys';
import { createProject, issueAppKey } from '#core/tenancy/projects';
import { ProjectExistsError } from '#core/store/repository';
import { runtime } from '#core/runtime';
import { resolveSettings, type WhatsappConfig } from '#core/tenancy/settings';
import { createVerifyService, listVerifyServices } from '#core/tenancy/verify-services';
import { routes } from '#lib/routes';
import { devRoutes } from './dev-routes';
import { startLocalApi, type LambdaHandler } from './server';
import { JavaMissingError, startLocalServices } from './services';
import { otpgateHome, removeLocalStackFile, writeLocalStackFile } from './stack-file';

/**
 * `npm start`: the whole service on localhost with no AWS account. DynamoDB Local keeps its data
 * in .otp-local/ (OTPGATE_HOME overrides), so users, keys and secrets survive a restart.
 */

const repoRoot = resolve(new URL('..', import.meta.url).pathname);
const home = otpgateHome(process.cwd());
const port = Number(process.env.PORT ?? 3000);
const projectId = 'demo';
const environment = 'development';

interface LocalProject {
  baseUrl: string;
  projectId: string;
  environment: string;
  appKey: string;
  /** The demo's WhatsApp OTP configuration: the `{otp_config_uid}` of /otp/{uid}/sendOTP. */
  whatsappConfigUid: string;
  /** The demo's Twilio Verify service: /v2/Services/{verifyServiceSid}/..., Basic auth verifyAccountSid:appKey. */
  verifyServiceSid: string;
  verifyAccountSid: string;
}

/** The demo's WhatsApp sender: Twilio's WhatsApp sandbox number; the code goes out as plain text. */
const demoWhatsappConfig: WhatsappConfig = { from: '+14155238886' };
/** The verification-id document's example: +1(555)987-6543 and code 133575. */
const SEED_TEST_NUMBER = '+15559876543';
const SEED_TEST_CODE = '133575';

const main = async () => {
  // Node 20 is supported here; the SDK's notice about its own future Node 22 floor would only bury the banner.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let stopping = false;
  let api: Awaited<ReturnType<typeof startLocalApi>> | undefined;
  let services: Awaited<ReturnType<typeof startLocalServices>> | undefined;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    removeLocalStackFile(home);
    await api?.close();
    await services?.stop();
    process.exit(code);
  };
  services = await startLocalServices({
    dataDir: join(home, 'dynamodb'),
    secretsDir: join(home, 'secrets'),
    messagesDir: join(home, 'messages'),
    // A stand-in that dies or stops answering is said in one line, and brought back; one that cannot be stops the stack.
    onNotice: (line) => console.error(line),
    onFatal: (message) => {
      console.error(message);
      void stop(1);
    },
  });
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    Object.assign(process.env, services.env);
    api = await startLocalApi({
      routes,
      port,
      host: process.env.HOST ?? '127.0.0.1',
      loadHandler: async (route) =>
        ((await import(pathToFileURL(join(repoRoot, route.entry)).href)) as { handler: LambdaHandler }).handler,
      extra: devRoutes(services),
    });
    // Handlers load on their first request, after this: their runtime sees the final environment.
    process.env.PUBLIC_BASE_URL ??= `http://localhost:${api.port}`;
    const baseUrl = `${process.env.PUBLIC_BASE_URL}/auth/${projectId}/${environment}`;

    const project = await ensureDemoProject(baseUrl);
    writeFileSync(join(home, 'project.json'), `${JSON.stringify(project, null, 2)}\n`, { mode: 0o600 });
    // For `npx otpgate`: DynamoDB Local's port changes on every start.
    writeLocalStackFile(home, {
      dynamoEndpoint: services.dynamoUrl,
      tableName: services.env.TABLE_NAME!,
      region: services.env.AWS_REGION!,
      secretsDir: services.env.OTPGATE_SECRETS_DIR!,
      apiUrl: process.env.PUBLIC_BASE_URL,
    });
    printBanner(project, api.port);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    await stop(1);
  }
};

/** Reuses the demo project's key and WhatsApp configuration across restarts; makes new ones if the saved ones are gone. */
const ensureDemoProject = async (baseUrl: string): Promise<LocalProject> => {
  const file = join(home, 'project.json');
  const saved = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalProject>) : {};
  const appKey = await ensureDemoKey(saved.appKey);
  const whatsappConfigUid = await ensureDemoWhatsappConfig(saved.whatsappConfigUid);
  await ensureVerifyWhatsapp(whatsappConfigUid);
  const verify = await ensureDemoVerifyService(saved.verifyServiceSid);
  return { baseUrl, projectId, environment, appKey, whatsappConfigUid, verifyServiceSid: verify.serviceSid, verifyAccountSid: verify.accountSid };
};

/** The demo's Verify service is the one saved, else the first it has, else a new one: the same sid across restarts. */
const ensureDemoVerifyService = async (savedSid: string | undefined) => {
  const { repo } = runtime();
  const services = await listVerifyServices(repo, { projectId, environment });
  return services.find((s) => s.serviceSid === savedSid) ?? services[0] ?? createVerifyService(repo, { projectId, environment }, { friendlyName: 'otpgate demo' });
};

/** Verify's whatsapp channel sends with the demo's WhatsApp configuration (the local Twilio secret names no WhatsApp sender). */
const ensureVerifyWhatsapp = async (uid: string): Promise<void> => {
  const { repo } = runtime();
  const project = await repo.findProject(projectId);
  if (!project) throw new Error(`otpgate local: the ${projectId} project disappeared while starting`);
  const settings = resolveSettings(project.settings, runtime().config.defaultCountryCode);
  const current = settings.twilioVerifyWhatsappConfig;
  if (current !== undefined && Object.hasOwn(settings.whatsappConfigs, current)) return;
  await repo.setProjectSettings(projectId, { ...project.settings, twilioVerifyWhatsappConfig: uid });
};

const ensureDemoKey = async (savedKey: string | undefined): Promise<string> => {
  const { repo } = runtime();
  const key = savedKey ? await repo.findAppKey(hashAppKey(savedKey)) : undefined;
  if (savedKey && key?.projectId === projectId && key.environment === environment) return savedKey;
  try {
    const settings = {
      appName: 'otpgate demo',
      whatsappConfigs: { [randomUUID()]: demoWhatsappConfig },
      // A playground: numbers of any country (a real project allows its default country only), and
      // the seeds' own fictional example number as a test identifier, so their exact bodies work.
      allowedCountries: ['*'],
      testIdentifiers: { [SEED_TEST_NUMBER]: SEED_TEST_CODE },
    };
    const created = await createProject(repo, { projectId, name: 'Demo', environments: [environment], settings });
    return created.keys[0]!.appKey;
  } catch (error) {
    if (!(error instanceof ProjectExistsError)) throw error;
    return issueAppKey(repo, { projectId, environment });
  }
};

/** The saved configuration if it still exists, else any the demo has, else a new one (a demo made before WhatsApp existed). */
const ensureDemoWhatsappConfig = async (savedUid: string | undefined): Promise<string> => {
  const { repo } = runtime();
  const project = await repo.findProject(projectId);
  if (!project) throw new Error(`otpgate local: the ${projectId} project disappeared while starting`);
  const configs = resolveSettings(project.settings, runtime().config.defaultCountryCode).whatsappConfigs;
  if (savedUid !== undefined && Object.hasOwn(configs, savedUid)) return savedUid;
  const [existing] = Object.keys(configs).sort();
  if (existing !== undefined) return existing;
  const uid = randomUUID();
  const stored = project.settings.whatsappConfigs;
  const others = typeof stored === 'object' && stored !== null ? stored : {};
  await repo.setProjectSettings(projectId, { ...project.settings, whatsappConfigs: { ...others, [uid]: demoWhatsappConfig } });
  return uid;
};

const printBanner = (project: LocalProject, port: number) => {
  const origin = new URL(project.baseUrl).origin;
  // The dev routes answer loopback Host names only, whatever PUBLIC_BASE_URL says.
  const dev = `http://localhost:${port}/_dev`;
  console.log(`
otpgate is running locally (data in ${home})

  Base URL     ${project.baseUrl}
  Project      ${project.projectId}
  Environment  ${project.environment}
  APP-KEY      ${project.appKey}
  WhatsApp OTP ${project.whatsappConfigUid} (the otp_config_uid; X-API-KEY is the APP-KEY)
  Verify       ServiceSid ${project.verifyServiceSid}
               account    ${project.verifyAccountSid} (Twilio Verify API; the auth token is the APP-KEY)
  Dev inbox    ${dev}/inbox  (as JSON: ${dev}/messages)
  OpenAPI      ${dev}/openapi.json
  Saved to     ${join(home, 'project.json')}
  Projects     npx otpgate --help   (projects, keys, settings of this local stack)

Try it:
  curl -s -X POST ${project.baseUrl}/mobile-otp-signup \\
    -H 'APP-KEY: ${project.appKey}' -H 'content-type: application/json' \\
    -d '{"country_code":"+91","mobile":"9876543211"}'
  curl -s '${dev}/messages?to=%2B919876543211'
  curl -s -X POST ${origin}/otp/${project.whatsappConfigUid}/sendOTP \\
    -H 'X-API-KEY: ${project.appKey}' -H 'content-type: application/json' \\
    -d '{"name":"Ana","mobileNumber":"9876543212","countryCode":"+91"}'
  curl -s -X POST ${origin}/v2/Services/${project.verifyServiceSid}/Verifications \\
    -u '${project.verifyAccountSid}:${project.appKey}' \\
    --data-urlencode 'To=+919876543213' --data-urlencode 'Channel=sms'

Press Ctrl-C to stop.
`);
};

main().catch((error: unknown) => {
  console.error(error instanceof JavaMissingError ? error.message : error);
  process.exit(1);
});
