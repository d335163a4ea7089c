import { runtime } from '#core/runtime';
import { createVerifyServiceResolver, twilioVerifyFetch } from '#core/styles/twilio-verify';

/** GET /v2/Services/{ServiceSid}/Verifications/{Sid} */
export const makeHandler = twilioVerifyFetch;

const rt = runtime();
export const handler = makeHandler({
  services: createVerifyServiceResolver(rt.repo, rt.config.defaultCountryCode),
  engine: rt.engine,
  verifications: rt.verifications,
  publicBaseUrl: rt.config.publicBaseUrl,
});
