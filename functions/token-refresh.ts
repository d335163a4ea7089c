import { tokenRefreshRoute } from '#core/tokens/session-routes';
import { runtime } from '#core/runtime';

/** POST /auth/{projectId}/{environment}/token/refresh */
export const makeHandler = tokenRefreshRoute;

const rt = runtime();
export const handler = makeHandler({ ...rt, publicBaseUrl: rt.config.publicBaseUrl });
