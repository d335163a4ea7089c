import type { Sender } from '#core/otp/engine';
import { ConfigError } from '#core/errors';
import { whatsappText } from '#core/delivery/messages';
import type { SecretSource } from '#core/secrets';
import type { WhatsappConfig } from '#core/tenancy/settings';
import { twilioAccounts, type TwilioAccountsOptions } from '#core/delivery/twilio-client';

/** A sender per WhatsApp OTP configuration: its sender number and template, the project's Twilio account. */
export type WhatsappSenders = (config: WhatsappConfig) => Sender;

/**
 * WhatsApp through Twilio's Messages API (`whatsapp:` addresses). A configuration that names a
 * Content template sends it with the code as variable "1", as WhatsApp wants approved templates
 * for business-initiated messages; otherwise the plain text of whatsappText.
 */
export const twilioWhatsappSenders = (secrets: SecretSource, options: TwilioAccountsOptions = {}): WhatsappSenders => {
  const accounts = twilioAccounts(secrets, options);
  return (config) => ({
    channel: 'whatsapp',
    send: async (message) => {
      const account = await accounts(message.tenant.projectId);
      if (!account) throw new ConfigError('WhatsApp is not configured: no Twilio secret');
      const from = config.from ?? account.credentials.whatsappFrom;
      if (!from) throw new ConfigError('WhatsApp is not configured: neither the WhatsApp configuration (from) nor the Twilio secret in use (whatsappFrom) names a sender');
      await account.messages.create({
        to: `whatsapp:${message.identity.address}`,
        from: `whatsapp:${from}`,
        ...(config.contentSid
          ? { contentSid: config.contentSid, contentVariables: JSON.stringify({ 1: message.code }) }
          : { body: whatsappText(message) }),
      });
    },
  });
};
