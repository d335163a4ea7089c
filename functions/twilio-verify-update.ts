import { runtime } from '#core/runtime';
import { createVerifyServiceResolver, twilioVerifyUpdate } from '#core/styles/twilio-verify';

/** POST /v2/Services/{ServiceSid}/Verifications/{Sid} (Status=canceled or approved) */
export const makeHandler = twilioVerifyUpdate;

const rt = runtime();
export const handler = makeHandler({
  services: createVerifyServiceResolver(rt.repo, rt.config.defaultCountryCode),
  engine: rt.engine,
  verifications: rt.verifications,
  publicBaseUrl: rt.config.publicBaseUrl,
});
