import { readFile } from 'node:fs/promises';
import { readInbox } from './inbox';
import type { LocalResponse } from './server';

/**
 * The local stack's own routes, under /_dev/ (never deployed): the messages sent as JSON and the
 * inbox page that shows them. The local server answers them on loopback Host names only.
 */

const pageDir = new URL('./inbox-page/', import.meta.url);

// Everything the page needs comes from this origin; a message body can never become markup or script.
const pageCsp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
].join('; ');

const assets: Readonly<Record<string, { file: string; contentType: string; headers?: Record<string, string> }>> = {
  '/_dev/inbox': { file: 'index.html', contentType: 'text/html; charset=utf-8', headers: { 'content-security-policy': pageCsp, 'x-frame-options': 'DENY' } },
  '/_dev/inbox.js': { file: 'inbox.js', contentType: 'text/javascript; charset=utf-8' },
  '/_dev/inbox.css': { file: 'inbox.css', contentType: 'text/css; charset=utf-8' },
};

export const devRoutes =
  (sources: { twilioUrl: string; sesUrl: string }) =>
  async (method: string, url: URL): Promise<LocalResponse | undefined> => {
    if (method !== 'GET') return undefined;
    const path = url.pathname.replace(/\/$/, '');
    if (path === '/_dev/messages') return { status: 200, body: await readInbox(sources, url.searchParams.get('to') ?? undefined) };
    const asset = assets[path];
    if (!asset) return undefined;
    // Read on every request: editing the page needs a reload, not a restart.
    const text = await readFile(new URL(asset.file, pageDir), 'utf8');
    return { status: 200, text, contentType: asset.contentType, ...(asset.headers ? { headers: asset.headers } : {}) };
  };
