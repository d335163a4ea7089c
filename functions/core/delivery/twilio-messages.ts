// The modules themselves, not their named exports: `request` is looked up on every call, so the
// X-Ray tracer's patch of http(s).request (captureHTTPsGlobal, where tracing is on) sees Twilio's calls.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

/**
 * Twilio's Create a Message call (POST /2010-04-01/Accounts/{AccountSid}/Messages.json), the one
 * Twilio API otpgate uses, sent directly over node:https. The twilio SDK made it too, but it is
 * 3.2 MB of bundle and about 120 ms of every SMS and WhatsApp function's cold start for this one
 * call (BENCHMARKS.md measures the options); node:https is what the AWS SDK already loads, so this
 * adds nothing to the cold start. The wire format (form fields, Basic auth) and the errors
 * (RestException with status, code, moreInfo) are the SDK's; test/integration/twilio-wire.test.ts
 * holds the two side by side.
 */

export interface TwilioMessage {
  /** E.164, or `whatsapp:+…` */
  readonly to: string;
  /** A sender number (or `whatsapp:+…`) ... */
  readonly from?: string | undefined;
  /** ... or a Messaging Service that picks one. */
  readonly messagingServiceSid?: string | undefined;
  readonly body?: string | undefined;
  /** A Content template and its variables as JSON, e.g. `{"1":"482913"}`. */
  readonly contentSid?: string | undefined;
  readonly contentVariables?: string | undefined;
}

export interface TwilioMessages {
  /** Resolves with the message's sid once Twilio has accepted it (201). */
  readonly create: (message: TwilioMessage) => Promise<{ readonly sid: string }>;
}

export interface TwilioMessagesOptions {
  /** Another origin than https://api.twilio.com (the local stack's Twilio-compatible endpoint); only the origin changes. */
  readonly apiBaseUrl?: string | undefined;
  /** Connect, send and answer within this time, or fail (a delivery failure). */
  readonly timeoutMs?: number;
  /** Asked on every message instead of timeoutMs (what the request's deadline leaves). */
  readonly timeoutFor?: () => number;
}

/**
 * What Twilio answered instead of a message, shaped like the SDK's RestException (same name and
 * fields), so logs and callers see what they saw with the SDK: `status` is the HTTP status, `code`
 * Twilio's error code (e.g. 21211 invalid number, 20003 authentication).
 */
export class TwilioRestError extends Error {
  override readonly name = 'RestException';
  readonly status: number;
  readonly code: number | undefined;
  readonly moreInfo: string | undefined;
  readonly details: unknown;

  constructor(status: number, body: unknown) {
    const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    super(typeof fields.message === 'string' ? fields.message : `[HTTP ${status}] Failed to execute request`);
    this.status = status;
    this.code = typeof fields.code === 'number' ? fields.code : undefined;
    this.moreInfo = typeof fields.more_info === 'string' ? fields.more_info : undefined;
    this.details = fields.details;
  }
}

const TWILIO_API = 'https://api.twilio.com';
const DEFAULT_TIMEOUT_MS = 5000;

// Kept alive, so a warm function reuses its TLS connection to Twilio instead of paying a handshake per code.
const agents = { 'https:': new https.Agent({ keepAlive: true }), 'http:': new http.Agent({ keepAlive: true }) };

/** Twilio's parameter names for the fields set (the SDK's serialisation, minus what otpgate never sends). */
const formOf = (message: TwilioMessage): string => {
  const form = new URLSearchParams();
  const fields: [string, string | undefined][] = [
    ['To', message.to],
    ['From', message.from],
    ['MessagingServiceSid', message.messagingServiceSid],
    ['Body', message.body],
    ['ContentSid', message.contentSid],
    ['ContentVariables', message.contentVariables],
  ];
  for (const [name, value] of fields) if (value !== undefined) form.append(name, value);
  return form.toString();
};

const readBody = (response: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
  });

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

export const twilioMessages = (credentials: { readonly accountSid: string; readonly authToken: string }, options: TwilioMessagesOptions = {}): TwilioMessages => {
  const url = new URL(`/2010-04-01/Accounts/${encodeURIComponent(credentials.accountSid)}/Messages.json`, options.apiBaseUrl ?? TWILIO_API);
  const transport = url.protocol === 'http:' ? http : https;
  const agent = url.protocol === 'http:' ? agents['http:'] : agents['https:'];
  const authorization = `Basic ${Buffer.from(`${credentials.accountSid}:${credentials.authToken}`, 'utf8').toString('base64')}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeoutNow = options.timeoutFor ?? (() => timeoutMs);

  return {
    create: (message) => {
      const body = formOf(message);
      return new Promise((resolve, reject) => {
        const request = transport.request(
          url,
          {
            method: 'POST',
            agent,
            signal: AbortSignal.timeout(timeoutNow()),
            headers: {
              authorization,
              accept: 'application/json',
              'content-type': 'application/x-www-form-urlencoded',
              'content-length': Buffer.byteLength(body),
              'user-agent': 'otpgate',
            },
          },
          (response) => {
            readBody(response).then((text) => {
              const status = response.statusCode ?? 0;
              const json = parseJson(text);
              const sid = (json as { sid?: unknown } | undefined)?.sid;
              if (status >= 200 && status < 300 && typeof sid === 'string') resolve({ sid });
              else reject(new TwilioRestError(status, json));
            }, reject);
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    },
  };
};
