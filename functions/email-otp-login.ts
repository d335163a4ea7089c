import { emailOtpLogin } from '#core/styles/mobile-email';
import { runtime } from '#core/runtime';
import { defaultSesSender } from '#core/delivery/ses-email';

/** POST /auth/{projectId}/{environment}/email-otp-login (a body with otp_code is verified instead, as the documents' example expects) */
export const makeHandler = emailOtpLogin;

const rt = runtime();
export const handler = makeHandler({ ...rt, sender: defaultSesSender(rt.config), publicBaseUrl: rt.config.publicBaseUrl });
