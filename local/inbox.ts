import type { RecordedEmail } from './ses-recorder';

/**
 * The local dev inbox: every SMS/WhatsApp message the local Twilio endpoint accepted and every
 * email aws-ses-v2-local accepted, newest first, with the code found in each. Local stack only.
 */
export interface DevMessage {
  readonly id: string;
  readonly channel: 'sms' | 'whatsapp' | 'email';
  readonly to: string;
  readonly subject: string | null;
  readonly body: string;
  readonly code: string | null;
  readonly sentAt: string;
}

interface TwilioStored {
  sid: string;
  channel: 'sms' | 'whatsapp';
  to: string;
  body: string;
  sentAt: string;
}

const codeIn = (text: string): string | null => /\b(\d{4,10})\b/.exec(text)?.[1] ?? null;

/** A `+` in a query string arrives as a space; give E.164 numbers their plus back. */
const normaliseRecipient = (to: string): string => {
  const trimmed = to.trim().toLowerCase().replace(/^whatsapp:/, '');
  return /^\d{7,15}$/.test(trimmed) && to.startsWith(' ') ? `+${trimmed}` : trimmed;
};

export const readInbox = async (sources: { twilioUrl: string; sesUrl: string }, to?: string): Promise<DevMessage[]> => {
  const [sms, emails] = await Promise.all([
    fetch(`${sources.twilioUrl}/_local/messages`).then((r) => r.json() as Promise<TwilioStored[]>),
    fetch(`${sources.sesUrl}/_local/emails`).then((r) => r.json() as Promise<RecordedEmail[]>),
  ]);
  const messages: DevMessage[] = [
    ...sms.map((m) => ({ id: m.sid, channel: m.channel, to: m.to, subject: null, body: m.body, code: codeIn(m.body), sentAt: m.sentAt })),
    ...emails.flatMap((e) =>
      e.to.map((recipient) => ({
        id: e.messageId,
        channel: 'email' as const,
        to: recipient,
        subject: e.subject,
        body: e.body.text ?? e.body.html ?? '',
        code: codeIn(e.body.text ?? e.body.html ?? ''),
        sentAt: e.sentAt,
      })),
    ),
  ];
  const wanted = to === undefined || to.trim() === '' ? undefined : normaliseRecipient(to);
  // Newest first; on a tie the later-stored message first.
  return messages
    .map((message, index) => ({ message, index }))
    .filter(({ message }) => wanted === undefined || normaliseRecipient(message.to) === wanted)
    .sort((a, b) => (a.message.sentAt === b.message.sentAt ? b.index - a.index : a.message.sentAt < b.message.sentAt ? 1 : -1))
    .map(({ message }) => message);
};
