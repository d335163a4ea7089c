import { runtime } from '#core/runtime';
import { createVerifyServiceResolver, twilioVerifyCheck } from '#core/styles/twilio-verify';

/** POST /v2/Services/{ServiceSid}/VerificationCheck */
export const makeHandler = twilioVerifyCheck;

const rt = runtime();
export const handler = makeHandler({
  services: createVerifyServiceResolver(rt.repo, rt.config.defaultCountryCode),
  engine: rt.engine,
  verifications: rt.verifications,
  publicBaseUrl: rt.config.publicBaseUrl,
});
