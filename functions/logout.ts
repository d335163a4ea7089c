import { logoutRoute } from '#core/tokens/session-routes';
import { runtime } from '#core/runtime';

/** POST /auth/{projectId}/{environment}/logout */
export const makeHandler = logoutRoute;

const rt = runtime();
export const handler = makeHandler({ ...rt, publicBaseUrl: rt.config.publicBaseUrl });
