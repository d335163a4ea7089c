import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import type { TwilioMessage, TwilioMessages, TwilioMessagesOptions } from '#core/delivery/twilio-messages';

/**
 * The real twilio SDK behind otpgate's TwilioMessages interface, with its requests sent to
 * `apiBaseUrl` instead of https://api.twilio.com when one is set. Only the origin changes: path,
 * auth, form encoding and error handling are the SDK's own. Tests use it to prove that the local
 * Twilio endpoint answers the SDK as Twilio does, and that otpgate's own client sends what the SDK
 * sends; `npm run bench` measures it as the "full SDK" option.
 */
export const redirectingRequestClient = (apiBaseUrl: string, timeoutMs: number) => {
  class RedirectingRequestClient extends twilio.RequestClient {
    override request<T>(opts: RequestClient.RequestOptions<T>) {
      const target = new URL(opts.uri);
      const base = new URL(apiBaseUrl);
      target.protocol = base.protocol;
      target.host = base.host;
      return super.request<T>({ ...opts, uri: target.href });
    }
  }
  return new RedirectingRequestClient({ timeout: timeoutMs });
};

/** Only the fields set, as the SDK would be called by hand. */
export const sdkParams = (message: TwilioMessage) =>
  Object.fromEntries(Object.entries(message).filter(([, value]) => value !== undefined)) as TwilioMessage & { to: string };

export const twilioMessages = (credentials: { accountSid: string; authToken: string }, options: TwilioMessagesOptions = {}): TwilioMessages => {
  const timeout = options.timeoutMs ?? 5000;
  const httpClient = options.apiBaseUrl === undefined ? undefined : redirectingRequestClient(options.apiBaseUrl, timeout);
  const api = twilio(credentials.accountSid, credentials.authToken, httpClient ? { httpClient } : { timeout });
  return {
    create: async (message) => {
      const created = await api.messages.create(sdkParams(message));
      return { sid: created.sid };
    },
  };
};
