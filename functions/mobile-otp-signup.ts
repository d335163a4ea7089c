import { mobileOtpStart } from '#core/styles/mobile-email';
import { runtime } from '#core/runtime';
import { twilioSmsSender } from '#core/delivery/twilio-sms';

/** POST /auth/{projectId}/{environment}/mobile-otp-signup */
export const makeHandler = mobileOtpStart.bind(undefined, 'signup');

const rt = runtime();
export const handler = makeHandler({
  ...rt,
  sender: twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl }),
});
