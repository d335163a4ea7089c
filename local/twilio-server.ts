import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { listen, readBody } from './http-server';
import { openMessageLog } from './message-log';

/**
 * A local stand-in for the part of Twilio's REST API otpgate uses: Create a Message
 * (POST /2010-04-01/Accounts/{AccountSid}/Messages.json), reached by otpgate's Twilio client (and, in
 * the tests, by the real twilio SDK: test/integration/twilio-wire.test.ts). It checks
 * Basic auth like Twilio, answers with Twilio's Message resource and error bodies, and fails the
 * same magic "To" numbers as Twilio's test credentials, so delivery failures can be exercised.
 * WhatsApp messages (`whatsapp:` From and To) may carry a Content template (ContentSid +
 * ContentVariables) instead of a Body; their stored body names the template and its variables.
 * Messages are kept in memory and listed at GET /_local/messages, `to` always in E.164.
 */

export interface LocalMessage {
  readonly sid: string;
  /** The Twilio account it was sent with (the stack-wide one or a project's own). */
  readonly accountSid: string;
  readonly channel: 'sms' | 'whatsapp';
  readonly to: string;
  readonly from: string;
  readonly body: string;
  readonly sentAt: string;
}

export interface TwilioCredentials {
  readonly accountSid: string;
  readonly authToken: string;
}

/** The accounts the endpoint knows: fixed, or looked up on every request (e.g. every Twilio secret of the local stack). */
export type TwilioAccountList = TwilioCredentials | readonly TwilioCredentials[] | (() => Promise<readonly TwilioCredentials[]>);

const accountsOf = async (accounts: TwilioAccountList): Promise<readonly TwilioCredentials[]> =>
  typeof accounts === 'function' ? accounts() : Array.isArray(accounts) ? accounts : [accounts as TwilioCredentials];

const CONTENT_SID = /^HX[0-9a-fA-F]{32}$/;

/** What a Content template message shows in the inbox: the template and its variables (the code among them). */
const renderContent = (contentSid: string, variables: Readonly<Record<string, string>>): string =>
  `Content template ${contentSid}: ${Object.entries(variables).map(([name, value]) => `{{${name}}}=${value}`).join(', ')}`;

const parseVariables = (raw: string | null): Record<string, string> | undefined => {
  if (raw === null || raw === '') return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const entries = Object.entries(parsed as Record<string, unknown>);
    if (!entries.every(([, value]) => typeof value === 'string' || typeof value === 'number')) return undefined;
    return Object.fromEntries(entries.map(([name, value]) => [name, String(value)]));
  } catch {
    return undefined;
  }
};

/**
 * Recipients the local endpoint refuses, with the errors Twilio returns for such numbers: +1 202
 * 555 01NN, where NN is the last digits of Twilio's own magic test numbers (+1 500 555 00NN).
 * Twilio's own ones cannot be used here: libphonenumber types +1 500 numbers as personal numbers,
 * which otpgate refuses before sending. 555-0100 to 555-0199 are reserved for fiction in every
 * North American area code, so these are valid mobile-capable numbers that reach nobody.
 */
export const FAILING_NUMBERS: Readonly<Record<string, { code: number; message: string }>> = {
  '+12025550101': { code: 21211, message: "The 'To' number +12025550101 is not a valid phone number." },
  '+12025550102': { code: 21612, message: "The 'To' phone number is not currently reachable via SMS." },
  '+12025550103': { code: 21408, message: 'Permission to send an SMS has not been enabled for the region indicated by the To number.' },
  '+12025550104': { code: 21610, message: "Attempt to send to unsubscribed recipient" },
  '+12025550109': { code: 21614, message: "'To' number is not a valid mobile number" },
};

const send = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const twilioError = (res: ServerResponse, status: number, code: number, message: string) =>
  send(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });

export const startTwilioServer = async (
  accounts: TwilioAccountList,
  /** messagesFile: where accepted messages are appended and read back at start (JSON lines); in memory only without it. */
  options: { port?: number; host?: string; messagesFile?: string } = {},
): Promise<{ url: string; server: Server; messages: LocalMessage[]; close: () => Promise<void> }> => {
  const log = openMessageLog<LocalMessage>(options.messagesFile);
  const messages: LocalMessage[] = log.saved;
  const messagesPath = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://local');
      if (req.method === 'GET' && url.pathname === '/_local/messages') return send(res, 200, messages);

      const match = messagesPath.exec(url.pathname);
      if (!match || req.method !== 'POST') return twilioError(res, 404, 20404, 'The requested resource was not found');

      const auth = req.headers.authorization ?? '';
      const [user, pass] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString('utf8').split(':');
      const credentials = (await accountsOf(accounts)).find((a) => a.accountSid === user && a.authToken === pass);
      if (!credentials || match[1] !== credentials.accountSid) {
        return twilioError(res, 401, 20003, 'Authenticate');
      }

      const text = await readBody(req);
      if (text === undefined) return twilioError(res, 400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
      const form = new URLSearchParams(text);
      const to = form.get('To') ?? '';
      const from = form.get('From') ?? form.get('MessagingServiceSid') ?? '';
      const contentSid = form.get('ContentSid');
      if (!to) return twilioError(res, 400, 21604, "A 'To' phone number is required.");
      if (!from) return twilioError(res, 400, 21603, "A 'From' phone number is required.");
      const channel = to.startsWith('whatsapp:') ? 'whatsapp' : 'sms';
      if (form.has('From') && from.startsWith('whatsapp:') !== (channel === 'whatsapp')) {
        return twilioError(res, 400, 21910, 'Invalid From and To pair. From and To should be of the same channel');
      }
      if (contentSid !== null && !CONTENT_SID.test(contentSid)) return twilioError(res, 400, 21655, 'The ContentSid is Invalid');
      const variables = parseVariables(form.get('ContentVariables'));
      if (variables === undefined) return twilioError(res, 400, 21656, 'The ContentVariables Parameter is invalid');
      const body = contentSid === null ? form.get('Body') ?? '' : renderContent(contentSid, variables);
      if (!body) return twilioError(res, 400, 21602, 'Message body is required.');
      const number = to.replace(/^whatsapp:/, '');
      if (!/^\+[1-9][0-9]{6,14}$/.test(number)) return twilioError(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
      const failure = FAILING_NUMBERS[number];
      if (failure) return twilioError(res, 400, failure.code, failure.message);

      const now = new Date();
      const message: LocalMessage = { sid: `SM${randomBytes(16).toString('hex')}`, accountSid: credentials.accountSid, channel, to: number, from, body, sentAt: now.toISOString() };
      messages.push(message);
      log.append(message);
      return send(res, 201, {
        account_sid: credentials.accountSid,
        api_version: '2010-04-01',
        body,
        date_created: now.toUTCString(),
        date_sent: null,
        date_updated: now.toUTCString(),
        direction: 'outbound-api',
        error_code: null,
        error_message: null,
        from: form.get('From'),
        messaging_service_sid: form.get('MessagingServiceSid'),
        num_media: '0',
        num_segments: '1',
        price: null,
        price_unit: 'USD',
        sid: message.sid,
        status: 'queued',
        subresource_uris: { media: `/2010-04-01/Accounts/${credentials.accountSid}/Messages/${message.sid}/Media.json` },
        to,
        uri: `/2010-04-01/Accounts/${credentials.accountSid}/Messages/${message.sid}.json`,
      });
    })().catch(() => twilioError(res, 500, 20500, 'Internal Server Error'));
  });

  const { port, close } = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, server, messages, close };
};
