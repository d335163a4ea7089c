import { emailOtpStart } from '#core/styles/mobile-email';
import { runtime } from '#core/runtime';
import { defaultSesSender } from '#core/delivery/ses-email';

/** POST /auth/{projectId}/{environment}/email-otp-signup */
export const makeHandler = emailOtpStart.bind(undefined, 'signup');

const rt = runtime();
export const handler = makeHandler({ ...rt, sender: defaultSesSender(rt.config) });
