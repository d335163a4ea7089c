import { whatsappSendOtp } from '#core/styles/whatsapp-otp';
import { runtime } from '#core/runtime';
import { twilioWhatsappSenders } from '#core/delivery/twilio-whatsapp';

/** POST /otp/{otpId}/sendOTP (otpId: a WhatsApp OTP configuration's uid) */
export const makeHandler = whatsappSendOtp;

const rt = runtime();
export const handler = makeHandler({
  tenants: rt.keyTenants,
  engine: rt.engine,
  whatsapp: twilioWhatsappSenders(rt.secrets, { apiBaseUrl: rt.config.twilioApiBaseUrl }),
});
