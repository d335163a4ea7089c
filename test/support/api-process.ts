import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { routes } from '#lib/routes';
import { devRoutes } from '../../local/dev-routes';
import { startLocalApi, type LambdaHandler } from '../../local/server';

/**
 * The local API server as its own process, as `npm start` runs it but pointed wherever its
 * environment says (test/support/stack.ts puts fault proxies between it and the stand-ins). Its
 * log lines go to stdout and stderr, where the suite reads them. Prints `{"listening":<port>}`.
 */

const repoRoot = new URL('../../', import.meta.url).pathname;
const required = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`api-process: ${name} is not set`);
  return value;
};

const api = await startLocalApi({
  routes,
  port: Number(required('PORT')),
  host: '127.0.0.1',
  loadHandler: async (route) => ((await import(pathToFileURL(join(repoRoot, route.entry)).href)) as { handler: LambdaHandler }).handler,
  // The dev inbox reads the stand-ins themselves, not through the faults.
  extra: devRoutes({ twilioUrl: required('DEV_TWILIO_URL'), sesUrl: required('DEV_SES_URL') }),
});
console.log(JSON.stringify({ listening: api.port }));
const stop = () => void api.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
