import { defaultSesSender } from '#core/delivery/ses-email';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { twilioWhatsappSenders } from '#core/delivery/twilio-whatsapp';
import type { Sender } from '#core/otp/engine';
import { runtime } from '#core/runtime';
import { createVerifyServiceResolver, twilioVerifyCreate } from '#core/styles/twilio-verify';

/** POST /v2/Services/{ServiceSid}/Verifications (Twilio Verify: HTTP Basic, account id and APP-KEY) */
export const makeHandler = twilioVerifyCreate;

const rt = runtime();
const twilio = { apiBaseUrl: rt.config.twilioApiBaseUrl };
// Built on the first email, so a deployment without SENDER_EMAIL still sends SMS (its emails fail, naming the variable).
let ses: Sender | undefined;
export const handler = makeHandler({
  services: createVerifyServiceResolver(rt.repo, rt.config.defaultCountryCode),
  engine: rt.engine,
  verifications: rt.verifications,
  publicBaseUrl: rt.config.publicBaseUrl,
  senders: {
    sms: twilioSmsSender(rt.secrets, twilio),
    whatsapp: twilioWhatsappSenders(rt.secrets, twilio),
    email: { channel: 'email', send: (message) => (ses ??= defaultSesSender(rt.config)).send(message) },
  },
});
