import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '#lib/otp-function';
import { routes } from '#lib/routes';
import { startLocalApi, type LambdaHandler } from '../local/server';

/**
 * The local stack's API server as `npm start` runs it (every route's handler from its sources, one
 * process), for the throughput run. Its services come from the environment the bench passes;
 * prints the port once it listens and stops on SIGTERM.
 */
const api = await startLocalApi({
  routes,
  port: 0,
  host: '127.0.0.1',
  loadHandler: async (route) => ((await import(pathToFileURL(join(repoRoot, route.entry)).href)) as { handler: LambdaHandler }).handler,
});
process.stdout.write(`${JSON.stringify({ port: api.port })}\n`);
process.on('SIGTERM', () => void api.close().then(() => process.exit(0)));
