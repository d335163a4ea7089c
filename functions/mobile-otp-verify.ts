import { mobileOtpVerify } from '#core/styles/mobile-email';
import { runtime } from '#core/runtime';

/** POST /auth/{projectId}/{environment}/mobile-otp-verify */
export const makeHandler = mobileOtpVerify;

const rt = runtime();
export const handler = makeHandler({ ...rt, publicBaseUrl: rt.config.publicBaseUrl });
