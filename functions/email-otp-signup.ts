import { emailOtpStart } from '#core/otp-api';
import { runtime } from '#core/runtime';
import { defaultSesSender } from '#core/ses-email';

/** POST /auth/{projectId}/{environment}/email-otp-signup */
export const makeHandler = emailOtpStart.bind(undefined, 'signup');

const rt = runtime();
export const handler = makeHandler({ ...rt, deliver: defaultSesSender(rt.config) });
