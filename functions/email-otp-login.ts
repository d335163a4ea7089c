import { emailOtpStart } from '#core/styles/mobile-email';
import { runtime } from '#core/runtime';
import { defaultSesSender } from '#core/delivery/ses-email';

/** POST /auth/{projectId}/{environment}/email-otp-login */
export const makeHandler = emailOtpStart.bind(undefined, 'login');

const rt = runtime();
export const handler = makeHandler({ ...rt, sender: defaultSesSender(rt.config) });
