import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import * as v from 'valibot';
import type { Sender } from '#core/otp/engine';
import { ConfigError } from '#core/errors';
import { smsText } from '#core/delivery/messages';
import { cached, type SecretSource } from '#core/secrets';

/** The Twilio secret: the account's credentials and who the SMS comes from. */
const credentialsSchema = v.object({
  accountSid: v.pipe(v.string(), v.startsWith('AC')),
  authToken: v.pipe(v.string(), v.minLength(1)),
  from: v.optional(v.string()),
  messagingServiceSid: v.optional(v.string()),
});
export type TwilioCredentials = v.InferOutput<typeof credentialsSchema>;

/**
 * The real twilio SDK, with its requests sent to `apiBaseUrl` instead of https://api.twilio.com
 * when one is set (the local stack's Twilio-compatible endpoint). Only the origin changes: the
 * path, auth, form encoding and error handling are the SDK's own.
 */
const requestClientFor = (apiBaseUrl: string | undefined) => {
  if (apiBaseUrl === undefined) return undefined;
  class RedirectingRequestClient extends twilio.RequestClient {
    override request<T>(opts: RequestClient.RequestOptions<T>) {
      const target = new URL(opts.uri);
      const base = new URL(apiBaseUrl!);
      target.protocol = base.protocol;
      target.host = base.host;
      return super.request<T>({ ...opts, uri: target.href });
    }
  }
  return new RedirectingRequestClient({ timeout: 5000 });
};

export const parseTwilioCredentials = (raw: string): TwilioCredentials => {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError('the Twilio secret is not JSON', { cause: error });
  }
  const result = v.safeParse(credentialsSchema, json);
  if (!result.success || (!result.output.from && !result.output.messagingServiceSid)) {
    throw new ConfigError('the Twilio secret needs accountSid, authToken and one of from / messagingServiceSid');
  }
  return result.output;
};

export const twilioSmsSender = (secrets: SecretSource, options: { apiBaseUrl?: string | undefined } = {}): Sender => {
  const client = cached(async () => {
    const raw = await secrets('twilio');
    if (raw === undefined) throw new ConfigError('SMS is not configured: no Twilio secret');
    const credentials = parseTwilioCredentials(raw);
    const httpClient = requestClientFor(options.apiBaseUrl);
    return {
      credentials,
      api: twilio(credentials.accountSid, credentials.authToken, httpClient ? { httpClient } : { timeout: 5000 }),
    };
  });

  return {
    channel: 'sms',
    send: async (message) => {
      const { api, credentials } = await client();
      await api.messages.create({
        to: message.identity.address,
        body: smsText(message),
        ...(credentials.messagingServiceSid ? { messagingServiceSid: credentials.messagingServiceSid } : { from: credentials.from! }),
      });
    },
  };
};
