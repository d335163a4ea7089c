import { whatsappVerifyOtp } from '#core/styles/whatsapp-otp';
import { runtime } from '#core/runtime';

/** POST /otp/{otpId}/verifyOTP (otpId: the id sendOTP returned) */
export const makeHandler = whatsappVerifyOtp;

const rt = runtime();
export const handler = makeHandler({ tenants: rt.keyTenants, engine: rt.engine });
