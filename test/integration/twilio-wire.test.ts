import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { twilioMessages, type TwilioMessage, type TwilioMessages } from '#core/delivery/twilio-messages';
import { closeServer, listen, readBody } from '../../local/http-server';
import { FAILING_NUMBERS } from '../../local/twilio-server';
import { twilioMessages as sdkMessages } from '../support/twilio-sdk';
import { inbox, uniqueIndianMobile } from '../support/harness';

/**
 * otpgate sends Twilio's Create a Message request itself (functions/core/delivery/twilio-messages.ts)
 * instead of through the twilio SDK. Here the real SDK still proves the local Twilio endpoint
 * answers as Twilio does, and otpgate's client is held to the SDK: the same request on the wire and
 * the same errors, for every message shape otpgate sends.
 */

const apiBaseUrl = process.env.TWILIO_API_BASE_URL!;
const credentials = JSON.parse(readFileSync(join(process.env.OTPGATE_SECRETS_DIR!, 'twilio'), 'utf8')) as { accountSid: string; authToken: string };
const clients: [string, (c: { accountSid: string; authToken: string }, base: string) => TwilioMessages][] = [
  ['the twilio SDK', (c, base) => sdkMessages(c, { apiBaseUrl: base })],
  ["otpgate's client", (c, base) => twilioMessages(c, { apiBaseUrl: base })],
];

/** What callers and logs read of a Twilio error (the SDK's RestException keeps Error's name; ours says RestException). */
const described = (error: unknown) => {
  const e = error as { status?: unknown; code?: unknown; message?: unknown; moreInfo?: unknown };
  return { status: e.status, code: e.code, message: e.message, moreInfo: e.moreInfo };
};
const failure = (promise: Promise<unknown>) => promise.then(() => 'delivered', described);

const shapes: [string, (to: string) => TwilioMessage][] = [
  ['an SMS from a number', (to) => ({ to, from: '+15005550006', body: '482913 is your Acme code. It expires in 5 minutes. Do not share it.' })],
  ['an SMS through a Messaging Service', (to) => ({ to, messagingServiceSid: 'MG0123456789abcdef0123456789abcdef', body: '482913 is your Acme code & more: ü+%' })],
  ['a WhatsApp Content template', (to) => ({ to: `whatsapp:${to}`, from: 'whatsapp:+14155238886', contentSid: 'HX0123456789abcdef0123456789abcdef', contentVariables: JSON.stringify({ 1: '482913' }) })],
];

describe.each(clients)('%s against the local Twilio endpoint', (_name, make) => {
  test.each(shapes)('delivers %s', async (_shape, message) => {
    const to = `+91${uniqueIndianMobile()}`;
    const { sid } = await make(credentials, apiBaseUrl).create(message(to));
    expect(sid).toMatch(/^SM[0-9a-f]{32}$/);
    const [received] = await inbox(to);
    expect(received).toMatchObject({ id: sid, to, code: '482913' });
  });

  test.each(Object.entries(FAILING_NUMBERS))("Twilio's test number %s fails with its error", async (number, expected) => {
    expect(await failure(make(credentials, apiBaseUrl).create({ to: number, from: '+15005550006', body: 'x' }))).toEqual({
      status: 400,
      code: expected.code,
      message: expected.message,
      moreInfo: `https://www.twilio.com/docs/errors/${expected.code}`,
    });
  });

  test('wrong credentials are 401 / 20003', async () => {
    expect(await failure(make({ ...credentials, authToken: 'wrong' }, apiBaseUrl).create({ to: '+919876543210', from: '+15005550006', body: 'x' }))).toMatchObject({
      status: 401,
      code: 20003,
    });
  });
});

/** A stand-in that records each request as it arrived and answers what the test says. */
const recorder = async (answer: (req: IncomingMessage) => { status: number; body: string }) => {
  const requests: { method: string; url: string; headers: IncomingMessage['headers']; form: Record<string, string> }[] = [];
  const server: Server = createServer((req, res) => {
    void readBody(req).then((text) => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, form: Object.fromEntries(new URLSearchParams(text ?? '')) });
      const { status, body } = answer(req);
      res.writeHead(status, { 'content-type': body.startsWith('{') ? 'application/json' : 'text/html' });
      res.end(body);
    });
  });
  const { port } = await listen(server, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, requests, close: () => closeServer(server) };
};

describe("otpgate's client sends what the SDK sends", () => {
  test.each(shapes)('%s: same method, path, auth, content type and form fields', async (_shape, message) => {
    const server = await recorder(() => ({ status: 201, body: JSON.stringify({ sid: 'SM00000000000000000000000000000000' }) }));
    try {
      for (const [, make] of clients) await make(credentials, server.url).create(message('+919876543210'));
      const [sdk, ours] = server.requests.map((r) => ({
        method: r.method,
        url: r.url,
        authorization: r.headers.authorization,
        contentType: r.headers['content-type'],
        accept: r.headers.accept,
        form: r.form,
      }));
      expect(ours).toEqual(sdk);
      expect(ours?.url).toBe(`/2010-04-01/Accounts/${credentials.accountSid}/Messages.json`);
    } finally {
      await server.close();
    }
  });

  test('an error page that is not JSON (a proxy, an outage) is a RestException with the HTTP status, from both', async () => {
    const server = await recorder(() => ({ status: 503, body: '<html>Service Unavailable</html>' }));
    try {
      const [sdk, ours] = await Promise.all(clients.map(([, make]) => failure(make(credentials, server.url).create({ to: '+919876543210', from: '+15005550006', body: 'x' }))));
      expect(sdk).toMatchObject({ status: 503, message: '[HTTP 503] Failed to execute request' });
      expect(ours).toEqual(sdk);
    } finally {
      await server.close();
    }
  });

  test('a Twilio that never answers fails the send (a delivery failure) instead of hanging it', async () => {
    const server = createServer(() => undefined);
    const { port } = await listen(server, 0, '127.0.0.1');
    try {
      await expect(twilioMessages(credentials, { apiBaseUrl: `http://127.0.0.1:${port}`, timeoutMs: 200 }).create({ to: '+919876543210', from: '+15005550006', body: 'x' })).rejects.toThrow();
    } finally {
      await closeServer(server);
    }
  });
});
