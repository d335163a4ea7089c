import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hashAppKey } from '#core/tenancy/app-keys';
import { createProject, issueAppKey } from '#core/tenancy/projects';
import { ProjectExistsError } from '#core/store/repository';
import { runtime } from '#core/runtime';
import { routes } from '#lib/routes';
import { readInbox } from './inbox';
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
}

const main = async () => {
  // Node 20 is supported here; the SDK's notice about its own future Node 22 floor would only bury the banner.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const services = await startLocalServices({ dataDir: join(home, 'dynamodb'), secretsDir: join(home, 'secrets') });
  let stopping = false;
  let api: Awaited<ReturnType<typeof startLocalApi>> | undefined;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    removeLocalStackFile(home);
    await api?.close();
    await services.stop();
    process.exit(code);
  };
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
      extra: async (method, url) => {
        if (method !== 'GET' || url.pathname.replace(/\/$/, '') !== '/_dev/messages') return undefined;
        return { status: 200, body: await readInbox(services, url.searchParams.get('to') ?? undefined) };
      },
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
    printBanner(project);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    await stop(1);
  }
};

/** Reuses the demo project's key across restarts; issues a new one if the saved one is gone. */
const ensureDemoProject = async (baseUrl: string): Promise<LocalProject> => {
  const { repo } = runtime();
  const file = join(home, 'project.json');
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalProject>;
    const key = saved.appKey ? await repo.findAppKey(hashAppKey(saved.appKey)) : undefined;
    if (saved.appKey && key?.projectId === projectId && key.environment === environment) {
      return { baseUrl, projectId, environment, appKey: saved.appKey };
    }
  }
  try {
    const created = await createProject(repo, { projectId, name: 'Demo', environments: [environment], settings: { appName: 'otpgate demo' } });
    return { baseUrl, projectId, environment, appKey: created.keys[0]!.appKey };
  } catch (error) {
    if (!(error instanceof ProjectExistsError)) throw error;
    const appKey = await issueAppKey(repo, { projectId, environment });
    return { baseUrl, projectId, environment, appKey };
  }
};

const printBanner = (project: LocalProject) => {
  const origin = new URL(project.baseUrl).origin;
  console.log(`
otpgate is running locally (data in ${home})

  Base URL     ${project.baseUrl}
  Project      ${project.projectId}
  Environment  ${project.environment}
  APP-KEY      ${project.appKey}
  Dev inbox    ${origin}/_dev/messages
  Saved to     ${join(home, 'project.json')}
  Projects     npx otpgate --help   (projects, keys, settings of this local stack)

Try it:
  curl -s -X POST ${project.baseUrl}/mobile-otp-signup \\
    -H 'APP-KEY: ${project.appKey}' -H 'content-type: application/json' \\
    -d '{"country_code":"+91","mobile":"9876543211"}'
  curl -s '${origin}/_dev/messages?to=%2B919876543211'

Press Ctrl-C to stop.
`);
};

main().catch((error: unknown) => {
  console.error(error instanceof JavaMissingError ? error.message : error);
  process.exit(1);
});
