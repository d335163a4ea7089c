import * as v from 'valibot';
import { deliveryTimeout } from '#core/deadline';
import { ConfigError } from '#core/errors';
import { projectSecretName, type SecretSource } from '#core/secrets';
import { twilioMessages, type TwilioMessages } from '#core/delivery/twilio-messages';

/**
 * The Twilio account a project's messages go out through: the project's own (the secret
 * `projects/<id>/twilio`) when it has one, else the stack-wide `twilio` secret. Shared by the SMS
 * and WhatsApp senders, so both always use the same account for a project.
 */

const e164 = v.pipe(v.string(), v.regex(/^\+[1-9][0-9]{6,14}$/));

/** A Twilio secret: the account's credentials and who messages come from. */
const credentialsSchema = v.object({
  accountSid: v.pipe(v.string(), v.startsWith('AC')),
  authToken: v.pipe(v.string(), v.minLength(1)),
  /** The SMS sender ... */
  from: v.optional(v.string()),
  /** ... or a Messaging Service that picks one. */
  messagingServiceSid: v.optional(v.string()),
  /** The WhatsApp sender used when a WhatsApp configuration names none. */
  whatsappFrom: v.optional(e164),
});
export type TwilioCredentials = v.InferOutput<typeof credentialsSchema>;

export const parseTwilioCredentials = (raw: string): TwilioCredentials => {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError('the Twilio secret is not JSON', { cause: error });
  }
  const result = v.safeParse(credentialsSchema, json);
  if (!result.success || (!result.output.from && !result.output.messagingServiceSid && !result.output.whatsappFrom)) {
    throw new ConfigError('the Twilio secret needs accountSid, authToken and one of from / messagingServiceSid / whatsappFrom');
  }
  return result.output;
};

/** Twilio gets 5 s per call at most, less when the request's deadline is nearer (deadline.ts). */
const TWILIO_TIMEOUT_MS = 5000;

export interface TwilioAccount {
  readonly credentials: TwilioCredentials;
  readonly messages: TwilioMessages;
  /** Whose account it is: the project's own or the stack-wide one. */
  readonly owner: 'project' | 'stack';
}

/** The account for a project; undefined when neither the project nor the stack has a Twilio secret. */
export type TwilioAccounts = (projectId: string) => Promise<TwilioAccount | undefined>;

export interface TwilioAccountsOptions {
  readonly apiBaseUrl?: string | undefined;
  /** How long a container trusts what it read; a changed or new project secret takes effect after this. */
  readonly cacheMs?: number;
  readonly now?: () => number;
}

/** How long a container trusts a Twilio secret it read (project's or stack-wide); see TwilioAccountsOptions.cacheMs. */
export const TWILIO_SECRET_CACHE_MS = 60_000;

export const twilioAccounts = (secrets: SecretSource, options: TwilioAccountsOptions = {}): TwilioAccounts => {
  const cacheMs = options.cacheMs ?? TWILIO_SECRET_CACHE_MS;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { readonly at: number; readonly account: Promise<TwilioAccount | undefined> }>();

  const load = async (projectId: string): Promise<TwilioAccount | undefined> => {
    const own = await secrets(projectSecretName(projectId, 'twilio'));
    const raw = own ?? (await secrets('twilio'));
    if (raw === undefined) return undefined;
    const credentials = parseTwilioCredentials(raw);
    return {
      credentials,
      // Requests go to apiBaseUrl instead of https://api.twilio.com when one is set (the local stack's Twilio endpoint).
      // Twilio gets 5 s per message at most, less when the request's deadline is nearer (deadline.ts).
      messages: twilioMessages(credentials, { apiBaseUrl: options.apiBaseUrl, timeoutFor: () => deliveryTimeout(TWILIO_TIMEOUT_MS) }),
      owner: own === undefined ? 'stack' : 'project',
    };
  };

  return (projectId) => {
    const at = now();
    const cachedEntry = entries.get(projectId);
    if (cachedEntry && at - cachedEntry.at < cacheMs) return cachedEntry.account;
    for (const [id, entry] of entries) if (at - entry.at >= cacheMs) entries.delete(id);
    // Concurrent requests share one read; a failed read is forgotten, so the next request tries again.
    const account = load(projectId).catch((error: unknown) => {
      if (entries.get(projectId)?.account === account) entries.delete(projectId);
      throw error;
    });
    entries.set(projectId, { at, account });
    return account;
  };
};
