import { mobileOtpLogin } from '#core/styles/mobile-email';
import { runtime } from '#core/runtime';
import { twilioSmsSender } from '#core/delivery/twilio-sms';

/** POST /auth/{projectId}/{environment}/mobile-otp-login (a body with otp_code is verified instead, as the documents' example expects) */
export const makeHandler = mobileOtpLogin;

const rt = runtime();
export const handler = makeHandler({
  ...rt,
  sender: twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl }),
  publicBaseUrl: rt.config.publicBaseUrl,
});
