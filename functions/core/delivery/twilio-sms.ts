import type { Sender } from '#core/otp/engine';
import { ConfigError } from '#core/errors';
import { smsText } from '#core/delivery/messages';
import type { SecretSource } from '#core/secrets';
import { twilioAccounts, type TwilioAccountsOptions } from '#core/delivery/twilio-client';

export { parseTwilioCredentials, type TwilioCredentials } from '#core/delivery/twilio-client';

/** SMS through the project's Twilio account (its own secret, else the stack-wide one). */
export const twilioSmsSender = (secrets: SecretSource, options: TwilioAccountsOptions = {}): Sender => {
  const accounts = twilioAccounts(secrets, options);
  return {
    channel: 'sms',
    send: async (message) => {
      const account = await accounts(message.tenant.projectId);
      if (!account) throw new ConfigError('SMS is not configured: no Twilio secret');
      const { messages, credentials } = account;
      if (!credentials.from && !credentials.messagingServiceSid) {
        throw new ConfigError('SMS is not configured: the Twilio secret in use has neither from nor messagingServiceSid');
      }
      await messages.create({
        to: message.identity.address,
        body: smsText(message),
        ...(credentials.messagingServiceSid ? { messagingServiceSid: credentials.messagingServiceSid } : { from: credentials.from! }),
      });
    },
  };
};
