import { openidConfigurationRoute } from '#core/tokens/discovery';
import { runtime } from '#core/runtime';

/** GET /auth/{projectId}/{environment}/.well-known/openid-configuration */
export const makeHandler = openidConfigurationRoute;

const rt = runtime();
export const handler = makeHandler({ ...rt, publicBaseUrl: rt.config.publicBaseUrl });
