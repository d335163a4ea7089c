import { Client } from 'twilio/lib/base/BaseTwilio';
import Domain from 'twilio/lib/base/Domain';
import RequestClient from 'twilio/lib/base/RequestClient';
import Version from 'twilio/lib/base/Version';
import type V2010 from 'twilio/lib/rest/api/V2010';
import { MessageListInstance } from 'twilio/lib/rest/api/v2010/account/message';
import type { TwilioMessage, TwilioMessages, TwilioMessagesOptions } from '../../functions/core/delivery/twilio-messages';

// Not imported from test/support/twilio-sdk.ts: that module imports the whole SDK.
const sdkParams = (message: TwilioMessage) =>
  Object.fromEntries(Object.entries(message).filter(([, value]) => value !== undefined)) as TwilioMessage & { to: string };

/**
 * Option "deep imports": only the SDK's base client and the Messages resource, put together by
 * hand the way twilio.Twilio -> api -> v2010 -> account.messages does it internally. The bundle
 * drops the other 40-odd domains, but keeps RequestClient's dependencies (axios, qs, jsonwebtoken
 * through ValidationToken, https-proxy-agent). Depends on the SDK's internal file layout and
 * constructor signatures, which are generated code and not a public API.
 */
export const twilioMessages = (credentials: { accountSid: string; authToken: string }, options: TwilioMessagesOptions = {}): TwilioMessages => {
  const timeout = options.timeoutMs ?? 5000;
  class Redirecting extends RequestClient {
    override request<T>(opts: RequestClient.RequestOptions<T>) {
      if (options.apiBaseUrl === undefined) return super.request<T>(opts);
      const target = new URL(opts.uri);
      const base = new URL(options.apiBaseUrl);
      target.protocol = base.protocol;
      target.host = base.host;
      return super.request<T>({ ...opts, uri: target.href });
    }
  }
  const client = new Client(credentials.accountSid, credentials.authToken, { httpClient: new Redirecting({ timeout }) });
  // A bare Version where the SDK passes its V2010: V2010 itself would pull in every Account resource (calls, queues, ...).
  const version = new Version(new Domain(client, 'https://api.twilio.com'), '2010-04-01') as unknown as V2010;
  const messages = MessageListInstance(version, credentials.accountSid);
  return {
    create: async (message) => {
      const created = await messages.create(sdkParams(message));
      return { sid: created.sid };
    },
  };
};
