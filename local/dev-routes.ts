import { readFile } from 'node:fs/promises';
import { buildOpenApiDocument } from '#core/openapi/document';
import { readInbox } from './inbox';
import type { LocalResponse } from './server';

/**
 * The local stack's own routes, under /_dev/ (never deployed): the messages sent as JSON, the
 * inbox page that shows them, and the OpenAPI document. The local server answers them on loopback
 * Host names only.
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

/**
 * The OpenAPI document is built from the running code (the committed openapi.json may lag behind
 * it). Its one server is relative: tools resolve it against the URL they fetched the document
 * from, so it names this stack whatever PORT it runs on.
 */
const localOpenApi = () => buildOpenApiDocument({ servers: [{ url: '/', description: 'This local stack (the origin this document was fetched from)' }] });

export const devRoutes = (sources: { twilioUrl: string; sesUrl: string }) => {
  let openApi: object | undefined;
  return async (method: string, url: URL): Promise<LocalResponse | undefined> => {
    if (method !== 'GET') return undefined;
    const path = url.pathname.replace(/\/$/, '');
    if (path === '/_dev/messages') return { status: 200, body: await readInbox(sources, url.searchParams.get('to') ?? undefined) };
    if (path === '/_dev/openapi.json') return { status: 200, body: (openApi ??= localOpenApi()) };
    const asset = assets[path];
    if (!asset) return undefined;
    // Read on every request: editing the page needs a reload, not a restart.
    const text = await readFile(new URL(asset.file, pageDir), 'utf8');
    return { status: 200, text, contentType: asset.contentType, ...(asset.headers ? { headers: asset.headers } : {}) };
  };
};
