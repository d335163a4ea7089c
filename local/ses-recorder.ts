import { createServer, type Server } from 'node:http';
import { listen } from './http-server';

/**
 * Sits in front of aws-ses-v2-local and records when each email was accepted, to the millisecond:
 * aws-ses-v2-local stamps whole seconds, which would misorder the dev inbox. Everything else is
 * passed through unchanged; GET /_local/sent-times returns { MessageId: ISO time }.
 */
export const startSesRecorder = async (targetUrl: string): Promise<{ url: string; server: Server; close: () => Promise<void> }> => {
  const sentTimes = new Map<string, string>();

  const server = createServer((req, res) => {
    const arrived = new Date().toISOString();
    if (req.method === 'GET' && req.url === '/_local/sent-times') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(Object.fromEntries(sentTimes)));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter((e): e is [string, string] => typeof e[1] === 'string' && !['host', 'content-length', 'connection'].includes(e[0])),
        );
        const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
        const upstream = await fetch(`${targetUrl}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, ...(body ? { body } : {}) });
        const text = await upstream.text();
        if (upstream.ok && req.method === 'POST' && req.url?.startsWith('/v2/email/outbound-emails')) {
          const id = (JSON.parse(text) as { MessageId?: string }).MessageId;
          if (id) sentTimes.set(id, arrived);
        }
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
        res.end(text);
      })().catch(() => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'aws-ses-v2-local is not reachable' }));
      });
    });
  });

  const { port, close } = await listen(server, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, server, close };
};
