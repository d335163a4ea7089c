import { routes } from '#lib/routes';
import { devRoutes } from '../../local/dev-routes';
import { startLocalApi, type LambdaHandler } from '../../local/server';

/**
 * The local server as `npm start` wires it (route table, real handlers, dev routes), in the test
 * process against the services of global-setup: the whole local API without a second DynamoDB Local.
 */
export const startTestApi = () =>
  startLocalApi({
    routes,
    port: 0,
    loadHandler: async (route) => ((await import(`../../${route.entry}`)) as { handler: LambdaHandler }).handler,
    extra: devRoutes({ twilioUrl: process.env.TWILIO_API_BASE_URL!, sesUrl: process.env.AWS_ENDPOINT_URL_SESV2! }),
  });
