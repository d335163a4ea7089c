import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { deadlineClient } from '#core/aws-clients';
import { requireValue, type Config } from '#core/config';
import type { Sender } from '#core/otp/engine';
import { deliveryAddress } from '#core/otp/identity';
import { emailContent, emailFrom } from '#core/delivery/messages';
import { traced } from '#core/observability/tracing';

export const sesEmailSender =
  (client: SESv2Client, from: string): Sender => ({
  channel: 'email',
  send: async (message) => {
    const { subject, text } = emailContent(message);
    await client.send(
      new SendEmailCommand({
        FromEmailAddress: emailFrom(message.settings, from),
        Destination: { ToAddresses: [deliveryAddress(message.identity)] },
        Content: {
          Simple: {
            Subject: { Data: subject, Charset: 'UTF-8' },
            Body: { Text: { Data: text, Charset: 'UTF-8' } },
          },
        },
      }),
    );
  },
});

/**
 * The deployed sender: without SENDER_EMAIL the function fails at cold start, naming it. Each SES
 * call is aborted after 5 s or when the request's time runs short (aws-clients.ts), so a hung call
 * still leaves time to undo a signup and answer.
 */
export const defaultSesSender = (config: Config): Sender =>
  sesEmailSender(
    traced(deadlineClient('ses', (options) => new SESv2Client(options))),
    requireValue(config.senderEmail, 'SENDER_EMAIL'),
  );
