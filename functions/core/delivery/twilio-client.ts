import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import * as v from 'valibot';
import { ConfigError } from '#core/errors';
import { projectSecretName, type SecretSource } from '#core/secrets';

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

/**
 * The real twilio SDK, with its requests sent to `apiBaseUrl` instead of https://api.twilio.com
 * when one is set (the local stack's Twilio-compatible endpoint). Only the origin changes: the
 * path, auth, form encoding and error handling are the SDK's own.
 */
const requestClientFor = (apiBaseUrl: string | undefined) => {
  if (apiBaseUrl === undefined) return undefined;
  class RedirectingRequestClient extends twilio.RequestClient {
    override request<T>(opts: RequestClient.RequestOptions<T>) {
      const target = new URL(opts.uri);
      const base = new URL(apiBaseUrl!);
      target.protocol = base.protocol;
      target.host = base.host;
      return super.request<T>({ ...opts, uri: target.href });
    }
  }
  return new RedirectingRequestClient({ timeout: 5000 });
};

export interface TwilioAccount {
  readonly credentials: TwilioCredentials;
  readonly api: twilio.Twilio;
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

const DEFAULT_CACHE_MS = 60_000;

export const twilioAccounts = (secrets: SecretSource, options: TwilioAccountsOptions = {}): TwilioAccounts => {
  const cacheMs = options.cacheMs ?? DEFAULT_CACHE_MS;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { readonly at: number; readonly account: Promise<TwilioAccount | undefined> }>();

  const load = async (projectId: string): Promise<TwilioAccount | undefined> => {
    const own = await secrets(projectSecretName(projectId, 'twilio'));
    const raw = own ?? (await secrets('twilio'));
    if (raw === undefined) return undefined;
    const credentials = parseTwilioCredentials(raw);
    const httpClient = requestClientFor(options.apiBaseUrl);
    return {
      credentials,
      api: twilio(credentials.accountSid, credentials.authToken, httpClient ? { httpClient } : { timeout: 5000 }),
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
