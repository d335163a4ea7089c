import { sendVerificationCode } from '#core/styles/verification-id';
import { runtime } from '#core/runtime';
import { twilioSmsSender } from '#core/delivery/twilio-sms';

/** POST /v1/send-verification-code (x-api-key picks the project and environment) */
export const makeHandler = sendVerificationCode;

const rt = runtime();
export const handler = makeHandler({
  ...rt,
  tenants: rt.keyTenants,
  sender: twilioSmsSender(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl }),
});
