import { emailOtpVerify } from '#core/styles/mobile-email';
import { runtime } from '#core/runtime';

/** POST /auth/{projectId}/{environment}/email-otp-verify */
export const makeHandler = emailOtpVerify;

const rt = runtime();
export const handler = makeHandler({ ...rt, publicBaseUrl: rt.config.publicBaseUrl });
