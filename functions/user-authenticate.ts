import { userAuthenticate } from '#core/styles/verification-id';
import { runtime } from '#core/runtime';

/** POST /v1/user/authenticate (x-api-key picks the project and environment) */
export const makeHandler = userAuthenticate;

const rt = runtime();
export const handler = makeHandler({ ...rt, tenants: rt.keyTenants, publicBaseUrl: rt.config.publicBaseUrl });
