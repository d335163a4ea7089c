import { createHmac, randomUUID } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { deliveryTimeout, ensureTime, isUnavailable, SEND_START_MS, timeLeft, within } from '#core/deadline';
import { ConfigError, errors } from '#core/errors';
import { describeError, log, mask } from '#core/log';
import { noMetrics, type OtpMetrics } from '#core/observability/metrics';
import { codeMatches, generateCode, hashCode, secureRandomInt, type RandomInt } from '#core/otp/codes';
import { deliveryAddress, type DeliveryChannel, type Identity } from '#core/otp/identity';
import type { CounterStore, SpendCaps } from '#core/store/counters';
import {
  IdentityTakenError,
  KEEP_COOLDOWN,
  type AlongsideWrite,
  type CodeRecord,
  type FailureLimits,
  type IdentifierState,
  type IdentityStore,
  type SendHistory,
  type UserRecord,
} from '#core/store/identities';
import type { TenantRef } from '#core/store/repository';
import type { ProjectSettings } from '#core/tenancy/settings';

/**
 * The OTP engine: issue a code to an identity, verify it, and enforce every abuse limit on the
 * way. It knows nothing of any one API's request or response shapes: every API style
 * (mobile/email, verification id, WhatsApp) is an adapter that calls these few operations, so
 * every style gets the same limits.
 */

export interface Tenant extends TenantRef {
  readonly settings: ProjectSettings;
}

/** A code ready to go out; the sender turns it into an SMS, a WhatsApp message or an email. */
export interface OutgoingCode {
  readonly tenant: TenantRef;
  readonly identity: Identity;
  readonly code: string;
  /** The settings the code was made with (a style may narrow them, e.g. a WhatsApp configuration's length). */
  readonly settings: ProjectSettings;
  /** Android SMS Retriever: the app's 11-character hash, which must end the SMS for the app to read the code itself. */
  readonly appHash?: string | undefined;
}

/** One way of delivering codes. A style picks the sender; the engine records its channel on the code. */
export interface Sender {
  readonly channel: DeliveryChannel;
  readonly send: (message: OutgoingCode) => Promise<void>;
}

/** Who is asking for a code, as far as the style knows. */
export interface SendContext {
  /** The API style, for per-style settings (e.g. sendsPerIpPerHourByStyle). */
  readonly style?: string;
  /**
   * The end user's IP, where the style knows it: the caller's own address for styles called from
   * the user's device, or one a server-side caller passes explicitly. Absent: no per-IP limit.
   */
  readonly clientIp?: string | undefined;
  /**
   * A code the caller chose instead of a generated one (Twilio Verify's CustomCode, only where the
   * project allows it). Stored, limited and used up like any other code.
   */
  readonly customCode?: string | undefined;
}

export interface EngineDeps {
  readonly identities: IdentityStore;
  readonly counters: CounterStore;
  readonly pepper: () => Promise<Uint8Array>;
  readonly now?: () => number;
  readonly randomInt?: RandomInt;
  readonly newId?: () => string;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Where outcomes are counted (CloudWatch in the runtime); nothing by default. */
  readonly metrics?: OtpMetrics;
}

/** What verify does when the code was sent to an address that has no user. */
export type UnknownUserPolicy =
  /** The mobile/email style: only signed-up users get tokens. */
  | 'reject'
  /** The verification-id style: the first successful verification creates the user. */
  | 'create'
  /** The WhatsApp OTP style: there are no users, only the code. */
  | 'ignore';

export interface VerifyOptions {
  /** The challenge the client names (a verification id); tries are only spent on that very code. */
  readonly challengeId?: string | undefined;
  readonly unknownUser?: UnknownUserPolicy;
  /**
   * Writes that must happen in the very write that uses up the code, for the user it verifies
   * (the session a token style starts): either both happen or neither.
   */
  readonly alongside?: (userId: string | undefined) => readonly AlongsideWrite[];
}

/**
 * Who a new code is for: a user the caller fixes, or the address's owner when the state is read
 * ('registered': there must be one), or ('pseudonym') the new user a concealing signup creates,
 * named from the state's generation (see pseudonymFor).
 */
type Owner = { readonly userId: string | undefined; readonly verified?: boolean } | 'registered' | 'anyone' | 'pseudonym';

type Release = () => Promise<void>;

/** A code stored for sending, with what undoing it needs. */
interface StoredCode {
  readonly code: string;
  readonly record: CodeRecord;
  readonly replaced: CodeRecord | undefined;
  /** Counter takes to give back should the send not happen. */
  readonly releases: readonly Release[];
  /** The spend cap's take alone (a decoy gives back the spend, not the per-IP count). */
  readonly spendRelease: Release | undefined;
  /** The address's user generation when the code was stored (pseudonyms). */
  readonly generation: number;
  readonly previousLastSentAt: number | undefined;
  readonly holdUntil: number;
  /** sendSeq as storing this code left it. */
  readonly seq: number;
}

export interface Issued {
  readonly userId: string | undefined;
  /** The id of this code: the verification id / OTP id some styles return. */
  readonly challengeId: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Rounds of read-decide-write before a request gives up under contention (each lost round means another request's write landed). */
const MAX_ROUNDS = 25;
/** Real send durations a container keeps per channel, for decoys; and what a decoy waits before any real send was seen. */
const SEND_TIMES_KEPT = 64;
const DEFAULT_SEND_MS = 150;
/** How long a stored code's delivery may hold off the next send when the request has no deadline of its own (scripts, tests). */
const DELIVERY_HOLD_MS = 10_000;

/** What an operator may see of a request: the tenant, the channel and a masked address. */
const where = (tenant: TenantRef, identity: Identity, channel?: DeliveryChannel) => ({
  projectId: tenant.projectId,
  environment: tenant.environment,
  ...(channel === undefined ? { identity: identity.kind } : { channel }),
  to: mask(identity.address),
});

const binding = (tenant: TenantRef, identity: Identity, challengeId: string) =>
  [tenant.projectId, tenant.environment, identity.kind, identity.address, challengeId].join('\0');

const userFields = (identity: Identity) => (identity.kind === 'phone' ? { mobile: identity.address } : { email: deliveryAddress(identity) });



/** A pending code that could still verify: not expired, tries left. */
const usable = (code: CodeRecord | undefined, at: number): boolean => code !== undefined && code.expiresAt > at && code.attempts < code.maxAttempts;

/** Seconds an identifier stays locked by wrong codes: 0 when it is not, undefined when only a success or an operator unlocks it. */
const lockWait = (state: IdentifierState, s: ProjectSettings, at: number): number | undefined => {
  if (state.consecutiveFails >= s.maxConsecutiveFailures) return undefined;
  const open = state.failWindowStart !== undefined && state.failWindowStart > at - HOUR;
  return open && state.failCount >= s.failedVerificationsPerIdentifierPerHour ? (state.failWindowStart! + HOUR - at) / 1000 : 0;
};

/** The per-IP limit counts an IPv6 client by its /64 (one subscriber's network), an IPv4 one by its address. */
export const ipBucket = (ip: string): string => {
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
};

/** Seconds until a sliding window of `size` holds fewer than `limit` of `times` (ascending), or 0 when it already does. */
const windowWait = (times: readonly number[], limit: number, size: number, at: number): number => {
  const inWindow = times.filter((t) => t > at - size);
  if (inWindow.length < limit) return 0;
  return (inWindow[inWindow.length - limit]! + size - at) / 1000;
};

const capsFor = (channel: DeliveryChannel, s: ProjectSettings): SpendCaps => {
  if (channel === 'sms') return { perHour: s.smsPerHour, perDay: s.smsPerDay, perCountryPerHour: s.sendsPerCountryPerHour };
  if (channel === 'whatsapp') return { perHour: s.whatsappPerHour, perDay: s.whatsappPerDay, perCountryPerHour: s.sendsPerCountryPerHour };
  // Email costs next to nothing, but bounces and complaints from a flood of it cost the SES account its reputation (and a sandbox account has 200 a day).
  return { perHour: s.emailPerHour, perDay: s.emailPerDay };
};

export const createEngine = (deps: EngineDeps) => {
  const now = deps.now ?? Date.now;
  const randomInt = deps.randomInt ?? secureRandomInt;
  const newId = deps.newId ?? randomUUID;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const metrics = deps.metrics ?? noMetrics;
  /** This container's recent real send durations per channel (ms), newest last: a decoy waits as long as one of them, drawn at random. */
  const sendTimes = new Map<DeliveryChannel, number[]>();

  const newCode = async (tenant: Tenant, identity: Identity, channel: DeliveryChannel, userId: string | undefined, at: number, customCode: string | undefined, ownerVerified: boolean) => {
    // A live test identifier's code is the project's fixed one (nothing is sent, so no other code could arrive); everything else about it is the same.
    const code = tenant.settings.testIdentifiers[identity.address] ?? customCode ?? generateCode(tenant.settings.codeLength, randomInt);
    const challengeId = newId();
    const record: CodeRecord = {
      challengeId,
      ...(userId === undefined ? {} : { userId }),
      ...(userId !== undefined && ownerVerified ? { ownerVerified: true } : {}),
      channel,
      codeHash: hashCode(await deps.pepper(), binding(tenant, identity, challengeId), code),
      expiresAt: at + tenant.settings.otpTtlSeconds * 1000,
      attempts: 0,
      maxAttempts: tenant.settings.maxAttempts,
      createdAt: at,
    };
    return { code, record };
  };

  const isTestIdentity = (tenant: Tenant, identity: Identity) => tenant.settings.testIdentifiers[identity.address] !== undefined;

  /** The identifier's own limits, decided on its state: locked by failures, cooldown, sends per hour and per day. */
  const checkIdentifierLimits = (tenant: Tenant, state: IdentifierState, at: number) => {
    const s = tenant.settings;
    // A code for an identifier locked by wrong codes could never verify: do not pay for its SMS.
    const failWait = lockWait(state, s, at);
    if (failWait !== 0) {
      metrics.limitHit(tenant, 'identifier_locked');
      throw errors.tooManyFailures(failWait);
    }
    const cooldownMs = s.resendCooldownSeconds * 1000;
    if (state.lastSentAt !== undefined && at - state.lastSentAt < cooldownMs) {
      metrics.limitHit(tenant, 'resend_cooldown');
      throw errors.resendTooSoon((state.lastSentAt + cooldownMs - at) / 1000);
    }
    // Another code is on its way right now (a cooldown shorter than a delivery): this one would race it to the phone.
    if (state.sendingUntil !== undefined && state.sendingUntil > at) {
      metrics.limitHit(tenant, 'resend_cooldown');
      throw errors.resendTooSoon(1);
    }
    const wait = Math.max(windowWait(state.sends, s.sendsPerIdentifierPerHour, HOUR, at), windowWait(state.sends, s.sendsPerIdentifierPerDay, DAY, at));
    if (wait > 0) {
      metrics.limitHit(tenant, 'identifier_sends');
      throw errors.tooManyRequests(wait);
    }
  };

  const checkIpLimit = async (tenant: Tenant, context: SendContext, at: number): Promise<Release | undefined> => {
    if (context.clientIp === undefined || context.clientIp === '') return undefined;
    const s = tenant.settings;
    const limit = (context.style === undefined ? undefined : s.sendsPerIpPerHourByStyle[context.style]) ?? s.sendsPerIpPerHour;
    if (limit <= 0) return undefined;
    const taken = await deps.counters.takeIpSend(tenant.projectId, ipBucket(context.clientIp), limit, at);
    if (!taken.ok) {
      log.warn('ip send limit reached', { projectId: tenant.projectId, environment: tenant.environment, limit });
      metrics.limitHit(tenant, 'ip_sends');
      throw errors.tooManyRequests(taken.retryAfterMs / 1000, 'codes requested from this network', 'ip_sends');
    }
    return taken.release;
  };

  const checkSpend = async (tenant: Tenant, identity: Identity, channel: DeliveryChannel, at: number): Promise<Release | undefined> => {
    const caps = capsFor(channel, tenant.settings);
    const country = channel === 'email' ? 'ZZ' : (parsePhoneNumberFromString(identity.address)?.country ?? 'ZZ');
    const taken = await deps.counters.takeSpend(tenant.projectId, channel, country, caps, at);
    if (!taken.ok) {
      log.warn('spend cap reached', { projectId: tenant.projectId, environment: tenant.environment, channel, cap: taken.cap, country });
      metrics.limitHit(tenant, 'spend_cap');
      metrics.spendCapReached(tenant, channel, taken.cap);
      throw errors.budgetExceeded(taken.retryAfterMs / 1000);
    }
    return taken.release;
  };

  /** Gives counted sends back when the send does not happen after all; a failure to give back only over-counts (safe). */
  const releaseAll = async (releases: readonly Release[]) => {
    await Promise.all(releases.map((release) => release().catch((error: unknown) => log.warn('could not give back a counted send', describeError(error)))));
  };

  const deliver = async (sender: Sender, tenant: Tenant, identity: Identity, code: string) => {
    if (isTestIdentity(tenant, identity)) {
      log.info('code for a test identifier not sent', where(tenant, identity, sender.channel));
      metrics.codeSend(tenant, sender.channel, 'test');
      return;
    }
    const started = performance.now();
    try {
      // Whatever the sender does, the request stops waiting in time to undo the code and answer.
      const sending = sender.send({ tenant: { projectId: tenant.projectId, environment: tenant.environment }, identity, code, settings: tenant.settings });
      await within(sending, deliveryTimeout(Number.POSITIVE_INFINITY), `${sender.channel} delivery`);
    } catch (error) {
      // A deployment that cannot send at all is ours to fix (a 500 with the setting named in the log), not the provider's.
      if (error instanceof ConfigError) throw error;
      // A provider that is down, slow or overloaded is a 503 to retry; one that refused the message, a 502.
      const unavailable = isUnavailable(error);
      log.warn('code delivery failed', { ...where(tenant, identity, sender.channel), ...describeError(error), ...(unavailable ? { unavailable } : {}) });
      metrics.codeSend(tenant, sender.channel, 'failed');
      throw unavailable ? errors.serviceUnavailable() : errors.deliveryFailed(sender.channel, error);
    }
    metrics.providerLatency(tenant, sender.channel, performance.now() - started);
    log.info('code sent', where(tenant, identity, sender.channel));
    metrics.codeSend(tenant, sender.channel, 'delivered');
  };

  /** A verify refused by a failure limit: counted as a lock-out, and as the limit that did it. */
  const refused = (tenant: Tenant, channel: DeliveryChannel | undefined, limit: 'failed_verifications' | 'consecutive_failures' | 'code_attempts') => {
    metrics.limitHit(tenant, limit);
    metrics.verification(tenant, channel, 'locked_out');
  };

  const recordSendTime = (channel: DeliveryChannel, ms: number) => {
    const times = sendTimes.get(channel) ?? [];
    times.push(ms);
    if (times.length > SEND_TIMES_KEPT) times.shift();
    sendTimes.set(channel, times);
  };
  /** How long a real send took, as a decoy should: one of the recent ones at random (so the spread matches too, not only the mean). */
  const aSendTime = (channel: DeliveryChannel): number => {
    const times = sendTimes.get(channel);
    return times === undefined || times.length === 0 ? DEFAULT_SEND_MS : times[secureRandomInt(times.length)]!;
  };

  /**
   * Decides and stores a new code for the address, in rounds: read the identifier's state, check
   * the limits on it, write conditional on it. A round lost to a concurrent send re-reads, and then
   * usually meets the cooldown. Counters (IP, spend) are taken once, in the first round that passes,
   * and given back if the send is refused or fails after all (the caller gets them to release on a
   * failed delivery), so refused requests never use up a budget. No code is stored without the
   * time to send it and, should that fail, to take it back. Returns the state the code replaced, for the undo.
   * An owner to look up is looked up after the state is read, strongly consistent, every round: a
   * removal of the user in between moves sendSeq, so the write cannot name a user that is gone
   * (the invariant single-write verifies rely on; store/identities.ts).
   */
  const storeNewCode = async (
    tenant: Tenant,
    identity: Identity,
    sender: Sender,
    context: SendContext,
    owner: Owner,
    write: (record: CodeRecord, history: SendHistory, state: IdentifierState) => Promise<{ replaced: CodeRecord | undefined } | 'raced'>,
    undoLost: (record: CodeRecord, state: IdentifierState) => Promise<void>,
    options: { readonly unmatchable?: boolean } = {},
  ): Promise<StoredCode | 'no-user'> => {
    const test = isTestIdentity(tenant, identity);
    const releases: Release[] = [];
    let spendRelease: Release | undefined;
    let countersTaken = false;
    try {
      for (let round = 0; round < MAX_ROUNDS; round += 1) {
        const state = await deps.identities.readState(tenant, identity);
        // Looked up after the state, strongly consistent, every round: see the doc comment above.
        const found =
          owner === 'pseudonym'
            ? { userId: await pseudonymFor(tenant, identity, state.generation) }
            : typeof owner === 'object'
              ? owner
              : await deps.identities.findOwner(tenant, identity);
        if (owner === 'registered' && found === undefined) {
          await releaseAll(releases);
          return 'no-user';
        }
        const userId = found?.userId;
        const at = now();
        if (!test) {
          checkIdentifierLimits(tenant, state, at);
          if (!countersTaken) {
            countersTaken = true;
            const ip = await checkIpLimit(tenant, context, at);
            if (ip) releases.push(ip);
            const spend = await checkSpend(tenant, identity, sender.channel, at);
            if (spend) releases.push(spend);
            spendRelease = spend;
          }
        }
        const { code, record } = await newCode(tenant, identity, sender.channel, userId, at, options.unmatchable ? undefined : context.customCode, found?.verified === true);
        // A decoy's code is a hash of nothing anyone holds: it verifies never, and wrong guesses count as usual.
        const stored = options.unmatchable ? { ...record, codeHash: `decoy:${newId()}` } : record;
        // Test identifiers leave the history alone: they are outside every limit.
        const sends = test ? state.sends : [...state.sends.filter((t) => t > at - DAY), at];
        ensureTime(SEND_START_MS, 'storing and sending a code');
        // The delivery ends by the request's deadline at the latest: that long, no other code may be sent (on the engine's clock).
        const holdUntil = at + Math.min(timeLeft(), DELIVERY_HOLD_MS);
        // While wrong codes are on record, the item must outlive any idle spell: its TTL is not two days then.
        const history = { sends, previousSeq: state.sendSeq, now: at, sendingUntil: holdUntil, keepLong: state.consecutiveFails > 0, keepForever: state.generation > 0 };
        let written;
        try {
          written = await write(stored, history, state);
        } catch (error) {
          // The write's answer was lost: it may have landed. Taking it back is conditional on our code, so it is safe either way.
          if (isUnavailable(error)) await undoLost(stored, state).catch(() => undefined);
          throw error;
        }
        if (written !== 'raced') {
          return { code, record: stored, replaced: written.replaced, releases, spendRelease, generation: state.generation, previousLastSentAt: state.lastSentAt, holdUntil, seq: state.sendSeq + 1 };
        }
      }
      throw errors.serviceUnavailable(1);
    } catch (error) {
      await releaseAll(releases);
      throw error;
    }
  };

  /** Ends a delivery's hold on the next send, unless the cooldown outlasts it anyway (the defaults: no write). */
  const endDelivery = async (tenant: Tenant, identity: Identity, record: CodeRecord, holdUntil: number) => {
    if (record.createdAt + tenant.settings.resendCooldownSeconds * 1000 >= holdUntil) return;
    await deps.identities.endDelivery(tenant, identity, record.challengeId).catch((error: unknown) =>
      // Not fatal: the hold ends by itself at the request's deadline.
      log.warn('could not end a delivery hold', { ...where(tenant, identity), ...describeError(error) }),
    );
  };

  /** Stores a new code for the address (replacing any pending one) and sends it; a failed send gives the old code back. */
  const replaceAndSend = async (tenant: Tenant, identity: Identity, sender: Sender, context: SendContext, owner: Owner): Promise<Issued | 'no-user'> => {
    const started = now();
    const stored = await storeNewCode(
      tenant,
      identity,
      sender,
      context,
      owner,
      (r, h) => deps.identities.storeCode(tenant, identity, r, h),
      (r, state) => deps.identities.withdrawCode(tenant, identity, r.challengeId, state.code, { previousLastSentAt: state.lastSentAt }, state.sendSeq + 1),
    );
    if (stored === 'no-user') return stored;
    const { code, record, replaced, releases, previousLastSentAt, holdUntil, seq } = stored;
    try {
      await deliver(sender, tenant, identity, code);
    } catch (error) {
      await releaseAll(releases);
      // The user never got the new code: give back the one they may still hold.
      await deps.identities.withdrawCode(tenant, identity, record.challengeId, replaced, { previousLastSentAt }, seq).catch((undoError: unknown) =>
        log.error('could not restore the previous code after failed delivery', { ...where(tenant, identity), ...describeError(undoError) }),
      );
      throw error;
    }
    await endDelivery(tenant, identity, record, holdUntil);
    recordSendTime(sender.channel, now() - started);
    return { userId: record.userId, challengeId: record.challengeId };
  };

  /**
   * The stable pseudonym a concealing project shows for an address with no user, and gives the
   * user if it signs up: every bit from an HMAC under the pepper. The address's user generation
   * (moved on when a user is removed) is in it, so a recycled address never inherits a removed user's id.
   */
  const pseudonymFor = async (tenant: Tenant, identity: Identity, generation: number): Promise<string> => {
    const input = `pseudonym-user\0${binding(tenant, identity, '')}${generation === 0 ? '' : `\0${generation}`}`;
    const mac = createHmac('sha256', await deps.pepper()).update(input).digest();
    // RFC 4122 version 4 and variant bits, set from the hash like a random UUID's are from randomness.
    mac[6] = (mac[6]! & 0x0f) | 0x40;
    mac[8] = (mac[8]! & 0x3f) | 0x80;
    const hex = mac.subarray(0, 16).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  };

  /**
   * What a concealing project does for a login to an address with no user: everything a real
   * login does (every limit and counter, a stored code with its send history, so a second login
   * meets the cooldown and a guess is a wrong code that counts) except the message: the code
   * stored matches nothing, nothing is sent, and the answer waits about as long as a real send.
   */
  const decoy = async (tenant: Tenant, identity: Identity, sender: Sender, context: SendContext, started: number): Promise<Issued & { userId: string }> => {
    const stored = await storeNewCode(
      tenant,
      identity,
      sender,
      context,
      { userId: undefined },
      // A code still pending (another style's, a signup's that landed meanwhile) is left alone: only the send is recorded,
      // so the decoy kills no code and a guess still meets a real code's answer. Otherwise the unmatchable code is stored.
      async (r, h, state) => {
        if (!usable(state.code, h.now)) return deps.identities.storeCode(tenant, identity, r, h);
        return (await deps.identities.recordSend(tenant, identity, h)) === 'raced' ? 'raced' : { replaced: undefined };
      },
      (r, state) => deps.identities.withdrawCode(tenant, identity, r.challengeId, state.code, { previousLastSentAt: state.lastSentAt }, state.sendSeq + 1),
      { unmatchable: true },
    );
    if (stored === 'no-user') throw errors.userNotFound(); // not reached: a decoy names no user
    const { record, spendRelease, holdUntil, generation } = stored;
    // Nothing went out: the spend budget gets the send back; the per-IP count stays, as a real login's would.
    await spendRelease?.();
    // As after a real send: the next login meets the cooldown, not a delivery hold.
    await endDelivery(tenant, identity, record, holdUntil);
    // The whole login (its owner lookup included) takes about as long as a real one: the wait ends at its start plus a send's usual time.
    await sleep(Math.max(0, aSendTime(sender.channel) - (now() - started)));
    return { userId: await pseudonymFor(tenant, identity, generation), challengeId: record.challengeId };
  };

  return {
    /**
     * Creates the user and sends the first code. Delivery failure undoes the signup, so it can be
     * retried. A signup whose user exists but never verified a code (its answer was lost, or its
     * message never came) sends a new code and answers like the first signup: nobody is locked
     * out of their own address, and a client may repeat a signup it got no answer to.
     */
    async signup(tenant: Tenant, identity: Identity, sender: Sender, context: SendContext = {}): Promise<Issued & { userId: string }> {
      const conceal = tenant.settings.concealUserExistence;
      // A few rounds only where a concurrent signup registered the address, or was undone, under our feet.
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        // Registered already: answered before any budget is counted. A user that never verified a code
        // (its answer was lost, its message never came) gets a new code; a concealing project sends the owner a login code.
        const existing = await deps.identities.findOwner(tenant, identity);
        if (existing !== undefined) {
          if (existing.verified && !conceal) throw errors.userExists();
          // The owner is looked up again once the state is read (storeNewCode): undone meanwhile, decide again.
          const sent = await replaceAndSend(tenant, identity, sender, context, 'registered');
          if (sent === 'no-user' || sent.userId === undefined) continue;
          return { ...sent, userId: sent.userId };
        }
        // Concealing: a new user gets the pseudonym a login would have shown, so login-then-signup tells nothing.
        let issued;
        try {
          issued = await storeNewCode(
            tenant,
            identity,
            sender,
            context,
            conceal ? 'pseudonym' : { userId: newId() },
            async (record, history) => {
              const user = { userId: record.userId!, ...userFields(identity), createdAt: new Date(record.createdAt).toISOString() };
              const result = await deps.identities.createUserWithCode(tenant, identity, user, record, history);
              return result === 'raced' ? 'raced' : { replaced: undefined };
            },
            (record, state) => deps.identities.undoSignup(tenant, identity, record.userId!, record.challengeId, { previousLastSentAt: state.lastSentAt }),
          );
        } catch (error) {
          if (!(error instanceof IdentityTakenError)) throw error;
          continue;
        }
        if (issued === 'no-user') continue; // not reached: signup names its own user
        const userId = issued.record.userId!;
        try {
          await deliver(sender, tenant, identity, issued.code);
        } catch (error) {
          await releaseAll(issued.releases);
          const undo = { previousLastSentAt: issued.previousLastSentAt };
          await deps.identities.undoSignup(tenant, identity, userId, issued.record.challengeId, undo).catch((undoError: unknown) =>
            log.error('could not undo signup after failed delivery', { ...where(tenant, identity), ...describeError(undoError) }),
          );
          throw error;
        }
        await endDelivery(tenant, identity, issued.record, issued.holdUntil);
        return { userId, challengeId: issued.record.challengeId };
      }
      throw errors.serviceUnavailable(1);
    },

    /** Sends a new code to a registered user; it replaces any code still pending. */
    async login(tenant: Tenant, identity: Identity, sender: Sender, context: SendContext = {}): Promise<Issued & { userId: string }> {
      const started = now();
      const sent = await replaceAndSend(tenant, identity, sender, context, 'registered');
      if (sent === 'no-user' || sent.userId === undefined) {
        if (tenant.settings.concealUserExistence) return decoy(tenant, identity, sender, context, started);
        throw errors.userNotFound();
      }
      return { ...sent, userId: sent.userId };
    },

    /**
     * Sends a code to any valid address, registered or not (styles without a signup step). The
     * user, if any, is looked up now; an unknown one is created by verify under the 'create' policy.
     */
    async start(tenant: Tenant, identity: Identity, sender: Sender, context: SendContext = {}): Promise<Issued> {
      const sent = await replaceAndSend(tenant, identity, sender, context, 'anyone');
      if (sent === 'no-user') throw errors.userNotFound(); // not reached: anyone may be sent a code here
      return sent;
    },

    /**
     * Withdraws the code pending for the address if it is still this challenge (Twilio Verify's
     * cancel): from then on it verifies nowhere, in no style. The send history stays.
     */
    async cancel(tenant: TenantRef, identity: Identity, challengeId: string): Promise<void> {
      await deps.identities.withdrawCode(tenant, identity, challengeId, undefined, KEEP_COOLDOWN);
    },

    /**
     * Verifies a submitted code: read the identifier's state, decide, write conditional on what was
     * decided. A wrong code is counted (the code's attempts, the failure window, the consecutive
     * failures) in one atomic write before the answer goes out; a right one is consumed in one
     * conditional write. Of any number of concurrent verifies with the right code exactly one
     * succeeds and the others read the code as used; no burst of guesses gets more tries than the
     * limits allow, because each try is counted by a write whose condition stops at the limits. A
     * write that finds the state changed is judged again on the new state (another round).
     */
    async verify(tenant: Tenant, identity: Identity, submitted: string, options: VerifyOptions = {}): Promise<{ userId: string | undefined; challengeId: string }> {
      // Before anything is decided: a pepper that cannot be loaded must not cost the user a try.
      const pepper = await deps.pepper();
      const s = tenant.settings;
      const policy = options.unknownUser ?? 'reject';
      const limits: FailureLimits = { windowMs: HOUR, perWindow: s.failedVerificationsPerIdentifierPerHour, maxConsecutive: s.maxConsecutiveFailures };
      let knownUserId: string | undefined;
      for (let round = 0; round < MAX_ROUNDS; round += 1) {
        const state = await deps.identities.readState(tenant, identity);
        const at = now();
        const windowOpen = state.failWindowStart !== undefined && state.failWindowStart > at - HOUR;
        const pending = state.code?.channel;
        if (windowOpen && state.failCount >= limits.perWindow) {
          refused(tenant, pending, 'failed_verifications');
          throw errors.tooManyFailures((state.failWindowStart! + HOUR - at) / 1000);
        }
        if (state.consecutiveFails >= limits.maxConsecutive) {
          refused(tenant, pending, 'consecutive_failures');
          throw errors.tooManyFailures(undefined);
        }

        const code = state.code;
        if (code === undefined || (options.challengeId !== undefined && code.challengeId !== options.challengeId)) {
          metrics.verification(tenant, pending, 'no_pending');
          throw errors.noPendingOtp();
        }
        if (code.expiresAt <= at) {
          metrics.verification(tenant, code.channel, 'expired');
          throw errors.otpExpired();
        }
        if (code.attempts >= code.maxAttempts) {
          refused(tenant, code.channel, 'code_attempts');
          throw errors.tooManyAttempts();
        }

        if (!codeMatches(pepper, binding(tenant, identity, code.challengeId), submitted, code.codeHash)) {
          const counted = await deps.identities.recordFailure(tenant, identity, { ...state, code }, limits, at);
          if (counted === 'raced') continue; // the next round judges this guess on the state that won
          log.info('wrong code', { ...where(tenant, identity, code.channel), attempts: counted.attempts });
          metrics.verification(tenant, code.channel, 'wrong');
          throw errors.invalidOtp(Math.max(code.maxAttempts - counted.attempts, 0));
        }

        let outcome;
        let createdUserId: string | undefined;
        const alongside = (userId: string | undefined) => options.alongside?.(userId) ?? [];
        if (policy === 'ignore') {
          outcome = await deps.identities.consume(tenant, identity, code, limits, at, { kind: 'none' }, alongside(undefined));
        } else if (code.userId !== undefined && code.ownerVerified === true) {
          // The code's owner is registered for as long as the code is pending: the code's item alone (with the session, if any).
          outcome = await deps.identities.consume(tenant, identity, code, limits, at, { kind: 'code-owner', userId: code.userId }, alongside(code.userId));
          knownUserId = code.userId;
        } else {
          // A code sent before the address had a user, or to one not yet verified: checked (and marked verified) in the same transaction.
          const userId = knownUserId ?? code.userId ?? (await deps.identities.findUserId(tenant, identity, { consistent: true }));
          if (userId !== undefined) {
            outcome = await deps.identities.consume(tenant, identity, code, limits, at, { kind: 'user', userId }, alongside(userId));
            knownUserId = userId;
          } else if (policy === 'reject') {
            metrics.verification(tenant, code.channel, 'unknown_user');
            throw errors.userNotFound();
          } else {
            const user: UserRecord = { userId: newId(), ...userFields(identity), createdAt: new Date(at).toISOString() };
            outcome = await deps.identities.consume(tenant, identity, code, limits, at, { kind: 'create', user }, alongside(user.userId));
            createdUserId = user.userId;
          }
        }
        // The next round sees who won (a used code reads as no pending code) or that the owner was removed.
        if (outcome === 'raced') {
          knownUserId = undefined;
          continue;
        }
        if (outcome === 'no-user') {
          metrics.verification(tenant, code.channel, 'unknown_user');
          throw errors.userNotFound();
        }
        if (outcome === 'identity-exists') {
          // Registered meanwhile (another style's signup): the next round verifies as that user.
          knownUserId = await deps.identities.findUserId(tenant, identity, { consistent: true });
          continue;
        }
        log.info('code verified', where(tenant, identity, code.channel));
        metrics.verification(tenant, code.channel, 'success');
        return { userId: createdUserId ?? knownUserId ?? code.userId, challengeId: code.challengeId };
      }
      throw errors.serviceUnavailable(1);
    },
  };
};

export type Engine = ReturnType<typeof createEngine>;

