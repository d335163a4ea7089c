import { createHmac, randomUUID } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { ConfigError, errors } from '#core/errors';
import { describeError, log, mask } from '#core/log';
import { noMetrics, type OtpMetrics } from '#core/observability/metrics';
import { codeMatches, generateCode, hashCode, secureRandomInt, type RandomInt } from '#core/otp/codes';
import { deliveryAddress, type DeliveryChannel, type Identity } from '#core/otp/identity';
import type { CounterStore, SpendCaps } from '#core/store/counters';
import { IdentityTakenError, type CodeRecord, type FailureLimits, type IdentifierState, type IdentityStore, type UserRecord } from '#core/store/identities';
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

type Release = () => Promise<void>;

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
  /** How long storing and sending a code takes here, per channel (moving average): what a concealed decoy waits. */
  const sendTime = new Map<DeliveryChannel, number>();

  const newCode = async (tenant: Tenant, identity: Identity, channel: DeliveryChannel, userId: string | undefined, at: number, customCode?: string) => {
    // A live test identifier's code is the project's fixed one (nothing is sent, so no other code could arrive); everything else about it is the same.
    const code = tenant.settings.testIdentifiers[identity.address] ?? customCode ?? generateCode(tenant.settings.codeLength, randomInt);
    const challengeId = newId();
    const record: CodeRecord = {
      challengeId,
      ...(userId === undefined ? {} : { userId }),
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
      await sender.send({ tenant: { projectId: tenant.projectId, environment: tenant.environment }, identity, code, settings: tenant.settings });
    } catch (error) {
      // A deployment that cannot send at all is ours to fix (a 500 with the setting named in the log), not the provider's.
      if (error instanceof ConfigError) throw error;
      log.warn('code delivery failed', { ...where(tenant, identity, sender.channel), ...describeError(error) });
      metrics.codeSend(tenant, sender.channel, 'failed');
      throw errors.deliveryFailed(sender.channel, error);
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

  const recordSendTime = (channel: DeliveryChannel, ms: number) => sendTime.set(channel, (sendTime.get(channel) ?? ms) * 0.8 + ms * 0.2);

  /**
   * Decides and stores a new code for the address, in rounds: read the identifier's state, check
   * the limits on it, write conditional on it. A round lost to a concurrent send re-reads, and then
   * usually meets the cooldown. Counters (IP, spend) are taken once, in the first round that passes,
   * and given back if the send is refused or fails after all (the caller gets them to release on a
   * failed delivery), so refused requests never use up a budget.
   */
  const storeNewCode = async (
    tenant: Tenant,
    identity: Identity,
    sender: Sender,
    context: SendContext,
    userId: string | undefined,
    write: (record: CodeRecord, history: { sends: readonly number[]; previousSeq: number; now: number; keepLong: boolean }) => Promise<{ replaced: CodeRecord | undefined } | 'raced'>,
    options: { readonly unmatchable?: boolean } = {},
  ) => {
    const test = isTestIdentity(tenant, identity);
    const releases: Release[] = [];
    let countersTaken = false;
    try {
      for (let round = 0; round < MAX_ROUNDS; round += 1) {
        const state = await deps.identities.readState(tenant, identity);
        const at = now();
        if (!test) {
          checkIdentifierLimits(tenant, state, at);
          if (!countersTaken) {
            countersTaken = true;
            const ip = await checkIpLimit(tenant, context, at);
            if (ip) releases.push(ip);
            const spend = await checkSpend(tenant, identity, sender.channel, at);
            if (spend) releases.push(spend);
          }
        }
        const { code, record } = await newCode(tenant, identity, sender.channel, userId, at, options.unmatchable ? undefined : context.customCode);
        // A decoy's code is a hash of nothing anyone holds: it verifies never, and wrong guesses count as usual.
        const stored = options.unmatchable ? { ...record, codeHash: `decoy:${newId()}` } : record;
        // Test identifiers leave the history alone: they are outside every limit.
        const sends = test ? state.sends : [...state.sends.filter((t) => t > at - DAY), at];
        // While wrong codes are on record, the item must outlive any idle spell: its TTL is not two days then.
        const written = await write(stored, { sends, previousSeq: state.sendSeq, now: at, keepLong: state.consecutiveFails > 0 });
        if (written !== 'raced') return { code, record: stored, replaced: written.replaced, releases };
      }
      throw errors.timeout();
    } catch (error) {
      await releaseAll(releases);
      throw error;
    }
  };

  /** Stores a new code for the address (replacing any pending one) and sends it; a failed send gives the old code back. */
  const replaceAndSend = async (tenant: Tenant, identity: Identity, sender: Sender, context: SendContext, userId: string | undefined): Promise<Issued> => {
    const started = now();
    const { code, record, replaced, releases } = await storeNewCode(tenant, identity, sender, context, userId, (r, h) =>
      deps.identities.storeCode(tenant, identity, r, h),
    );
    try {
      await deliver(sender, tenant, identity, code);
    } catch (error) {
      await releaseAll(releases);
      // The user never got the new code: give back the one they may still hold.
      await deps.identities.withdrawCode(tenant, identity, record.challengeId, replaced).catch((undoError: unknown) =>
        log.error('could not restore the previous code after failed delivery', { ...where(tenant, identity), ...describeError(undoError) }),
      );
      throw error;
    }
    recordSendTime(sender.channel, now() - started);
    return { userId, challengeId: record.challengeId };
  };

  /** The stable pseudonym a concealing project shows for an address with no user, and gives the user if it signs up: every bit from an HMAC under the pepper. */
  const pseudonymFor = async (tenant: Tenant, identity: Identity): Promise<string> => {
    const mac = createHmac('sha256', await deps.pepper()).update(`pseudonym-user\0${binding(tenant, identity, '')}`).digest();
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
  const decoy = async (tenant: Tenant, identity: Identity, sender: Sender, context: SendContext): Promise<Issued & { userId: string }> => {
    const started = now();
    const { record, releases } = await storeNewCode(tenant, identity, sender, context, undefined, (r, h) => deps.identities.storeCode(tenant, identity, r, h), {
      unmatchable: true,
    });
    // Nothing went out: the spend and IP budgets get the send back, as for any send that did not happen.
    await releaseAll(releases);
    await sleep(Math.max(0, (sendTime.get(sender.channel) ?? 150) - (now() - started)));
    return { userId: await pseudonymFor(tenant, identity), challengeId: record.challengeId };
  };

  return {
    /** Creates the user and sends the first code. Delivery failure undoes the signup, so it can be retried. */
    async signup(tenant: Tenant, identity: Identity, sender: Sender, context: SendContext = {}): Promise<Issued & { userId: string }> {
      const conceal = tenant.settings.concealUserExistence;
      // Registered already: answered before any budget is counted (a concealing project sends the owner a login code).
      const existing = await deps.identities.findUserId(tenant, identity);
      if (existing !== undefined) {
        if (!conceal) throw errors.userExists();
        return { ...(await replaceAndSend(tenant, identity, sender, context, existing)), userId: existing };
      }
      // Concealing: a new user gets the pseudonym a login would have shown, so login-then-signup tells nothing.
      const userId = conceal ? await pseudonymFor(tenant, identity) : newId();
      let issued;
      try {
        issued = await storeNewCode(tenant, identity, sender, context, userId, async (record, history) => {
          const user = { userId, ...userFields(identity), createdAt: new Date(record.createdAt).toISOString() };
          const result = await deps.identities.createUserWithCode(tenant, identity, user, record, history);
          return result === 'raced' ? 'raced' : { replaced: undefined };
        });
      } catch (error) {
        if (!(error instanceof IdentityTakenError)) throw error;
        // Registered by a concurrent signup meanwhile.
        if (!conceal) throw errors.userExists();
        const owner = await deps.identities.findUserId(tenant, identity);
        if (owner === undefined) throw errors.userExists();
        return { ...(await replaceAndSend(tenant, identity, sender, context, owner)), userId: owner };
      }
      try {
        await deliver(sender, tenant, identity, issued.code);
      } catch (error) {
        await releaseAll(issued.releases);
        await deps.identities.undoSignup(tenant, identity, userId, issued.record.challengeId).catch((undoError: unknown) =>
          log.error('could not undo signup after failed delivery', { ...where(tenant, identity), ...describeError(undoError) }),
        );
        throw error;
      }
      return { userId, challengeId: issued.record.challengeId };
    },

    /** Sends a new code to a registered user; it replaces any code still pending. */
    async login(tenant: Tenant, identity: Identity, sender: Sender, context: SendContext = {}): Promise<Issued & { userId: string }> {
      const userId = await deps.identities.findUserId(tenant, identity);
      if (userId === undefined) {
        if (tenant.settings.concealUserExistence) return decoy(tenant, identity, sender, context);
        throw errors.userNotFound();
      }
      return { ...(await replaceAndSend(tenant, identity, sender, context, userId)), userId };
    },

    /**
     * Sends a code to any valid address, registered or not (styles without a signup step). The
     * user, if any, is looked up now; an unknown one is created by verify under the 'create' policy.
     */
    async start(tenant: Tenant, identity: Identity, sender: Sender, context: SendContext = {}): Promise<Issued> {
      return replaceAndSend(tenant, identity, sender, context, await deps.identities.findUserId(tenant, identity));
    },

    /**
     * Withdraws the code pending for the address if it is still this challenge (Twilio Verify's
     * cancel): from then on it verifies nowhere, in no style. The send history stays.
     */
    async cancel(tenant: TenantRef, identity: Identity, challengeId: string): Promise<void> {
      await deps.identities.withdrawCode(tenant, identity, challengeId, undefined);
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
        if (policy === 'ignore') {
          outcome = await deps.identities.consume(tenant, identity, code, limits, at, { kind: 'none' });
        } else {
          const userId = code.userId ?? knownUserId ?? (await deps.identities.findUserId(tenant, identity));
          if (userId !== undefined) {
            outcome = await deps.identities.consume(tenant, identity, code, limits, at, { kind: 'user', userId });
            knownUserId = userId;
          } else if (policy === 'reject') {
            metrics.verification(tenant, code.channel, 'unknown_user');
            throw errors.userNotFound();
          } else {
            const user: UserRecord = { userId: newId(), ...userFields(identity), createdAt: new Date(at).toISOString() };
            outcome = await deps.identities.consume(tenant, identity, code, limits, at, { kind: 'create', user });
            createdUserId = user.userId;
          }
        }
        if (outcome === 'raced') continue; // the next round sees who won: a used code reads as no pending code
        if (outcome === 'no-user') {
          metrics.verification(tenant, code.channel, 'unknown_user');
          throw errors.userNotFound();
        }
        if (outcome === 'identity-exists') {
          // Registered meanwhile (another style's signup): the next round verifies as that user.
          knownUserId = await deps.identities.findUserId(tenant, identity);
          continue;
        }
        log.info('code verified', where(tenant, identity, code.channel));
        metrics.verification(tenant, code.channel, 'success');
        return { userId: createdUserId ?? knownUserId ?? code.userId, challengeId: code.challengeId };
      }
      throw errors.timeout();
    },
  };
};

export type Engine = ReturnType<typeof createEngine>;

