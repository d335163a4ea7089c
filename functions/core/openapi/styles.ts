import type { StyleDoc } from '#core/openapi/operations';
import { mobileEmailOpenApi } from '#core/styles/mobile-email-openapi';
import { twilioVerifyOpenApi } from '#core/styles/twilio-verify-openapi';
import { verificationIdOpenApi } from '#core/styles/verification-id-openapi';
import { whatsappOtpOpenApi } from '#core/styles/whatsapp-otp-openapi';
import { tokensOpenApi } from '#core/tokens/tokens-openapi';

/**
 * Every style's operations, in the order their tags appear in the document. A new style adds its
 * <style>-openapi.ts module beside its schemas and one line here; a route of lib/routes.ts that no
 * style describes fails `npm run openapi` and the tests, naming the route.
 */
export const styleDocs: readonly StyleDoc[] = [mobileEmailOpenApi, verificationIdOpenApi, whatsappOtpOpenApi, twilioVerifyOpenApi, tokensOpenApi];
