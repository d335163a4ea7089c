import { jwksRoute } from '#core/tokens/discovery';
import { runtime } from '#core/runtime';

/** GET /auth/{projectId}/{environment}/.well-known/jwks.json */
export const makeHandler = jwksRoute;

const rt = runtime();
export const handler = makeHandler({ ...rt, publicBaseUrl: rt.config.publicBaseUrl });
