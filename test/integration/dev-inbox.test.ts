import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveSettings } from '#core/tenancy/settings';
import { twilioSmsSender } from '#core/delivery/twilio-sms';
import { startTwilioServer } from '../../local/twilio-server';
import { startTestApi } from '../support/local-api';
import { uniqueIndianMobile } from '../support/harness';

/**
 * The local server's /_dev/ routes over HTTP: who may read them (DNS rebinding), the headers that
 * keep the inbox page's live codes out of caches and other sites, and messages kept across a restart.
 */

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

const get = (path: string, host: string) =>
  new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: api.port, path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });

describe('/_dev/ answers loopback Host names only', () => {
  test.each(['evil.example', 'evil.example:3000', 'localhost.evil.example', '127.0.0.1.nip.io', '192.168.1.20:3000', 'localhost:3000@evil.example'])(
    'Host %s gets 403 JSON, never a message',
    async (host) => {
      for (const path of ['/_dev/messages', '/_dev/inbox', '/_dev/inbox.js', '/_dev/nothing-here']) {
        const res = await get(path, host);
        expect(res.status).toBe(403);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(JSON.parse(res.body)).toEqual({ error: { code: 'forbidden_host', message: expect.stringContaining('localhost') } });
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.headers['x-content-type-options']).toBe('nosniff');
      }
    },
  );

  test.each(['localhost', 'LOCALHOST:3000', '127.0.0.1', '[::1]:8080'])('Host %s (any port) is served', async (host) => {
    const res = await get('/_dev/messages', host);
    expect(res.status).toBe(200);
    expect(Array.isArray(JSON.parse(res.body))).toBe(true);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('the API routes themselves still answer any Host, as API Gateway does', async () => {
    const res = await get('/auth/nobody/development/.well-known/jwks.json', 'auth.example.com');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body).error.code).toBe('project_not_found');
  });
});

test('the inbox page has a strict Content-Security-Policy and loads only its own script and style', async () => {
  const page = await get('/_dev/inbox', `localhost:${api.port}`);
  expect(page.status).toBe(200);
  expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
  const csp = String(page.headers['content-security-policy']);
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-');
  expect(page.headers['cache-control']).toBe('no-store');
  expect(page.headers['x-content-type-options']).toBe('nosniff');

  const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((url) => !url.startsWith('data:'));
  expect(assets.sort()).toEqual(['/_dev/inbox.css', '/_dev/inbox.js']);
  const script = await get('/_dev/inbox.js', `localhost:${api.port}`);
  expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
  const style = await get('/_dev/inbox.css', `localhost:${api.port}`);
  expect(style.headers['content-type']).toBe('text/css; charset=utf-8');
});

test('with a messages file the local Twilio endpoint keeps its messages across a restart', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'otpgate-messages-')), 'twilio.jsonl');
  const credentials = JSON.parse(readFileSync(join(process.env.OTPGATE_SECRETS_DIR!, 'twilio'), 'utf8')) as { accountSid: string; authToken: string };
  const sendTo = async (url: string, to: string, code: string) =>
    twilioSmsSender(async () => JSON.stringify({ ...credentials, from: '+15005550006' }), { apiBaseUrl: url }).send({
      tenant: { projectId: 'p', environment: 'dev' },
      identity: { kind: 'phone', address: to },
      code,
      settings: resolveSettings({ appName: 'Acme' }, '+91'),
    });
  const list = async (url: string) => (await (await fetch(`${url}/_local/messages`)).json()) as { to: string; body: string }[];

  const first = await startTwilioServer(credentials, { messagesFile: file });
  const to = `+91${uniqueIndianMobile()}`;
  await sendTo(first.url, to, '111222');
  await first.close();

  const second = await startTwilioServer(credentials, { messagesFile: file });
  try {
    expect(await list(second.url)).toEqual([expect.objectContaining({ to, body: expect.stringContaining('111222') })]);
    await sendTo(second.url, to, '333444');
    expect((await list(second.url)).map((m) => m.body.slice(0, 6))).toEqual(['111222', '333444']);
  } finally {
    await second.close();
  }

  // Without a file (as in the test suite's services) nothing outlives the server.
  const inMemory = await startTwilioServer(credentials);
  await sendTo(inMemory.url, to, '555666');
  await inMemory.close();
  const again = await startTwilioServer(credentials);
  expect(await list(again.url)).toEqual([]);
  await again.close();
});
