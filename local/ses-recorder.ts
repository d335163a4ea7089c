import { createServer, type Server } from 'node:http';
import { listen } from './http-server';
import { openMessageLog } from './message-log';

/**
 * Sits in front of aws-ses-v2-local and records every email it accepted, for the dev inbox:
 * when it arrived, to the millisecond (aws-ses-v2-local stamps whole seconds, which would misorder
 * the inbox), and, with a messagesFile, on disk (aws-ses-v2-local keeps its store in memory only, so
 * the inbox would forget every email when `npm start` restarts). Everything else is passed through
 * unchanged; GET /_local/emails lists the recorded emails, oldest first.
 */

export interface RecordedEmail {
  readonly messageId: string;
  readonly to: string[];
  readonly subject: string;
  readonly body: { readonly text?: string; readonly html?: string };
  readonly sentAt: string;
}

/** The part of aws-ses-v2-local's GET /store answer the recorder reads. */
interface SesStored {
  messageId: string;
  destination: { to: string[] };
  subject: string;
  body: { text?: string; html?: string };
  at: number;
}

export const startSesRecorder = async (
  targetUrl: string,
  options: { messagesFile?: string } = {},
): Promise<{ url: string; server: Server; close: () => Promise<void> }> => {
  const log = openMessageLog<RecordedEmail>(options.messagesFile);
  const emails: RecordedEmail[] = log.saved;

  /** Reads the accepted email back from aws-ses-v2-local, which parsed it (simple, raw or templated). */
  const record = async (messageId: string, arrived: Date) => {
    const since = Math.floor(arrived.getTime() / 1000) - 1;
    const store = (await (await fetch(`${targetUrl}/store?since=${since}`)).json()) as { emails: SesStored[] };
    const stored = store.emails.find((e) => e.messageId === messageId);
    if (!stored) return;
    const email: RecordedEmail = {
      messageId,
      to: stored.destination.to,
      subject: stored.subject,
      body: stored.body,
      sentAt: arrived.toISOString(),
    };
    emails.push(email);
    log.append(email);
  };

  const server = createServer((req, res) => {
    const arrived = new Date();
    if (req.method === 'GET' && req.url === '/_local/emails') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(emails));
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
          // Recorded before the sender hears back, so the inbox never lags behind an accepted send.
          if (id) await record(id, arrived);
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
