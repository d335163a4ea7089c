import { existsSync } from 'node:fs';
import { jest } from '@jest/globals';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { newTenant, uniqueEmail, uniqueIndianMobile, type TestTenant } from '../support/harness';
import { startTestApi } from '../support/local-api';

/**
 * The dev inbox page in a real browser (Debian's headless Chromium driven by playwright-core):
 * what a developer does with it while building a sign-in screen. The local API runs in-process
 * against the suite's local services, wired as `npm start` wires it.
 */

jest.setTimeout(60_000);

const CHROMIUM = '/usr/bin/chromium';

let api: Awaited<ReturnType<typeof startTestApi>>;
let browser: Browser;
let tenant: TestTenant;
let origin: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The dev inbox browser test needs Chromium at ${CHROMIUM} (playwright cannot download one here). ` +
        'Install it: sudo apt-get install -y chromium   (.ci/run does this).',
    );
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  api = await startTestApi();
  origin = `http://localhost:${api.port}`;
  tenant = await newTenant();
});

afterAll(async () => {
  await browser?.close();
  await api?.close();
});

const post = async (t: TestTenant, path: string, body: unknown) => {
  const res = await fetch(`${origin}/auth/${t.projectId}/${t.environment}/${path}`, {
    method: 'POST',
    headers: { 'APP-KEY': t.appKey, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

/** A page that records what would show a broken page: script errors, CSP refusals, requests elsewhere. */
const openInbox = async (context: BrowserContext, query = ''): Promise<{ page: Page; problems: string[] }> => {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('request', (request) => {
    if (!request.url().startsWith(`${origin}/`) && !request.url().startsWith('data:')) problems.push(`request elsewhere: ${request.url()}`);
  });
  await page.goto(`${origin}/_dev/inbox${query}`);
  await page.locator('#status[data-state="live"]').waitFor();
  return { page, problems };
};

/** Globals inside the page, for page.evaluate (the tests compile without the DOM's types). */
interface PageGlobals {
  navigator: { clipboard: { readText(): Promise<string>; writeText(text: string): Promise<void> } };
  stillThisPage?: boolean;
}

/** The message shown for a recipient (newest first); `.to` is the recipient as the page prints it. */
const messageTo = (page: Page, to: string) =>
  page.locator('#messages > li').filter({ has: page.locator('.to', { hasText: new RegExp(`^${to.replace(/[+.]/g, '\\$&')}$`) }) });

test('a code sent through the API appears on the open page without a reload, and verifies', async () => {
  const context = await browser.newContext();
  const { page, problems } = await openInbox(context);
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });
  await page.evaluate(() => ((globalThis as unknown as PageGlobals).stillThisPage = true));

  const mobile = uniqueIndianMobile();
  expect(await messageTo(page, `+91${mobile}`).count()).toBe(0);
  const signup = await post(tenant, 'mobile-otp-signup', { country_code: '+91', mobile });
  expect(signup.status).toBe(201);

  const message = messageTo(page, `+91${mobile}`);
  await message.locator('.code').waitFor();
  const code = (await message.locator('.code').textContent())?.trim() ?? '';
  expect(code).toMatch(/^\d{6}$/);
  expect(await message.locator('.channel').textContent()).toBe('SMS');
  expect(navigations).toBe(0);
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).stillThisPage)).toBe(true);

  const verified = await post(tenant, 'mobile-otp-verify', { mobile, otp_code: code });
  expect(verified.status).toBe(200);
  expect(verified.body.access_token).toEqual(expect.stringMatching(/^eyJ/));
  expect(problems).toEqual([]);
  await context.close();
});

test('the recipient filter hides other recipients and survives a reload through the URL', async () => {
  const context = await browser.newContext();
  const mobile = uniqueIndianMobile();
  const email = uniqueEmail();
  expect((await post(tenant, 'mobile-otp-signup', { country_code: '+91', mobile })).status).toBe(201);
  expect((await post(tenant, 'email-otp-signup', { email })).status).toBe(201);

  const { page, problems } = await openInbox(context);
  await messageTo(page, `+91${mobile}`).waitFor();
  await messageTo(page, email).waitFor();

  await page.locator('#to').fill(`+91${mobile}`);
  await messageTo(page, email).waitFor({ state: 'detached' });
  expect(await page.locator('#messages > li .to').allTextContents()).toEqual([`+91${mobile}`]);
  expect(new URL(page.url()).searchParams.get('to')).toBe(`+91${mobile}`);

  await page.reload();
  await page.locator('#status[data-state="live"]').waitFor();
  expect(await page.locator('#to').inputValue()).toBe(`+91${mobile}`);
  expect(await page.locator('#messages > li .to').allTextContents()).toEqual([`+91${mobile}`]);

  // Part of an address is enough, and the email's message comes back when the filter is cleared.
  await page.locator('#to').fill(email.slice(0, 12).toUpperCase());
  await messageTo(page, email).waitFor();
  expect(await page.locator('#messages > li .to').allTextContents()).toEqual([email]);
  await page.locator('#to').fill('');
  await messageTo(page, `+91${mobile}`).waitFor();
  expect(new URL(page.url()).searchParams.has('to')).toBe(false);
  expect(problems).toEqual([]);
  await context.close();
});

test('the copy button puts the code on the clipboard', async () => {
  const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  const email = uniqueEmail();
  const { page, problems } = await openInbox(context, `?to=${encodeURIComponent(email)}`);
  await page.evaluate(() => (globalThis as unknown as PageGlobals).navigator.clipboard.writeText('not the code'));
  expect((await post(tenant, 'email-otp-signup', { email })).status).toBe(201);

  const message = messageTo(page, email);
  await message.locator('.code').waitFor();
  const code = (await message.locator('.code').textContent())?.trim();
  expect(code).toMatch(/^\d{6}$/);
  await message.locator('button.copy').click();
  await message.locator('button.copy', { hasText: 'Copied' }).waitFor();
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).navigator.clipboard.readText())).toBe(code);
  expect(problems).toEqual([]);
  await context.close();
});

test('a message body with HTML in it is shown as text, never as markup', async () => {
  // A project's app name is the project owner's text and goes into every message verbatim.
  const appName = `<img src=x onerror="document.title='owned'"><b>Acme</b>`;
  const hostile = await newTenant({ settings: { appName } });
  const mobile = uniqueIndianMobile();
  const context = await browser.newContext();
  const { page, problems } = await openInbox(context, `?to=%2B91${mobile}`);
  expect((await post(hostile, 'mobile-otp-signup', { country_code: '+91', mobile })).status).toBe(201);

  const message = messageTo(page, `+91${mobile}`);
  await message.locator('.code').waitFor();
  const code = (await message.locator('.code').textContent())?.trim();
  expect(await message.locator('.body').textContent()).toBe(`${code} is your ${appName} code. It expires in 5 minutes. Do not share it.`);
  expect(await page.locator('#messages img, #messages b').count()).toBe(0);
  expect(await page.title()).not.toBe('owned');
  expect(problems).toEqual([]);
  await context.close();
});
