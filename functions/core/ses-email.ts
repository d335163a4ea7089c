import { SendEmailCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import type { Deliver } from './engine';
import { ConfigError } from './errors';
import { emailContent } from './messages';

export const sesEmailSender = (client: SESv2Client, from: string | undefined): Deliver => async (message) => {
  if (from === undefined) throw new ConfigError('email is not configured: SENDER_EMAIL is not set');
  const { subject, text } = emailContent(message);
  await client.send(
    new SendEmailCommand({
      FromEmailAddress: from,
      Destination: { ToAddresses: [message.identity.address] },
      Content: {
        Simple: {
          Subject: { Data: subject, Charset: 'UTF-8' },
          Body: { Text: { Data: text, Charset: 'UTF-8' } },
        },
      },
    }),
  );
};
