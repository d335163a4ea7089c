import { randomUUID } from 'node:crypto';
import { ConfigError, errors } from '#core/errors';
import type { DeliveryChannel, Identity } from '#core/otp/identity';
import { describeError, log, mask } from '#core/log';
import { codeMatches, generateCode, hashCode, secureRandomInt, type RandomInt } from '#core/otp/codes';
import { IdentityTakenError, type OtpRecord, type Repository, type TenantRef, type UserRecord } from '#core/store/repository';
import type { ProjectSettings } from '#core/tenancy/settings';

/**
 * The OTP engine: issue a code to an identity, verify it. It knows nothing of any one API's
 * request or response shapes: every API style (mobile/email, verification id, WhatsApp) is an
 * adapter that calls these few operations.
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
}

/** One way of delivering codes. A style picks the sender; the engine records its channel on the code. */
export interface Sender {
  readonly channel: DeliveryChannel;
  readonly send: (message: OutgoingCode) => Promise<void>;
}

export interface EngineDeps {
  readonly repo: Repository;
  readonly pepper: () => Promise<Uint8Array>;
  readonly now?: () => number;
  readonly randomInt?: RandomInt;
  readonly newId?: () => string;
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

/** What an operator may see of a request: the tenant, the channel and a masked address. */
const where = (tenant: TenantRef, identity: Identity, channel?: DeliveryChannel) => ({
  projectId: tenant.projectId,
  environment: tenant.environment,
  ...(channel === undefined ? { identity: identity.kind } : { channel }),
  to: mask(identity.address),
});

const binding = (tenant: TenantRef, identity: Identity, challengeId: string) =>
  [tenant.projectId, tenant.environment, identity.kind, identity.address, challengeId].join('\0');

const userFields = (identity: Identity) => (identity.kind === 'phone' ? { mobile: identity.address } : { email: identity.address });

export const createEngine = (deps: EngineDeps) => {
  const now = deps.now ?? Date.now;
  const randomInt = deps.randomInt ?? secureRandomInt;
  const newId = deps.newId ?? randomUUID;

  const newChallenge = async (tenant: Tenant, identity: Identity, channel: DeliveryChannel, userId: string | undefined) => {
    const code = generateCode(tenant.settings.codeLength, randomInt);
    const challengeId = newId();
    const issuedAt = now();
    const otp: OtpRecord = {
      challengeId,
      ...(userId === undefined ? {} : { userId }),
      channel,
      codeHash: hashCode(await deps.pepper(), binding(tenant, identity, challengeId), code),
      expiresAt: issuedAt + tenant.settings.otpTtlSeconds * 1000,
      attempts: 0,
      maxAttempts: tenant.settings.maxAttempts,
      createdAt: issuedAt,
    };
    return { code, otp };
  };

  const deliver = async (sender: Sender, tenant: Tenant, identity: Identity, code: string) => {
    try {
      await sender.send({ tenant: { projectId: tenant.projectId, environment: tenant.environment }, identity, code, settings: tenant.settings });
    } catch (error) {
      // A deployment that cannot send at all is ours to fix (a 500 with the setting named in the log), not the provider's.
      if (error instanceof ConfigError) throw error;
      log.warn('code delivery failed', { ...where(tenant, identity, sender.channel), ...describeError(error) });
      throw errors.deliveryFailed(sender.channel, error);
    }
    log.info('code sent', where(tenant, identity, sender.channel));
  };

  /** Stores a new code for the address (replacing any pending one) and sends it; a failed send gives the old code back. */
  const replaceAndSend = async (tenant: Tenant, identity: Identity, sender: Sender, userId: string | undefined): Promise<Issued> => {
    const { code, otp } = await newChallenge(tenant, identity, sender.channel, userId);
    const previous = await deps.repo.putOtp(tenant, identity, otp);
    try {
      await deliver(sender, tenant, identity, code);
    } catch (error) {
      // The user never got the new code: give back the one they may still hold.
      await deps.repo.restoreOtp(tenant, identity, otp.challengeId, previous).catch((undoError: unknown) =>
        log.error('could not restore the previous code after failed delivery', { ...where(tenant, identity), ...describeError(undoError) }),
      );
      throw error;
    }
    return { userId, challengeId: otp.challengeId };
  };

  /** Consumes a code that matched, as its style's user policy says; returns the user it verified. */
  const consume = async (tenant: Tenant, identity: Identity, otp: OtpRecord, policy: UnknownUserPolicy): Promise<string | undefined> => {
    if (policy === 'ignore') {
      if ((await deps.repo.consumeOtpOnly(tenant, identity, otp.challengeId)) === 'gone') throw errors.noPendingOtp();
      return otp.userId;
    }
    let userId = otp.userId ?? (await deps.repo.findUserId(tenant, identity));
    if (userId === undefined) {
      if (policy === 'reject') throw errors.userNotFound();
      const user: UserRecord = { userId: newId(), ...userFields(identity), createdAt: new Date(now()).toISOString() };
      const created = await deps.repo.consumeOtpCreatingUser(tenant, identity, otp.challengeId, user);
      if (created === 'consumed') return user.userId;
      if (created === 'gone') throw errors.noPendingOtp();
      // Registered meanwhile (another style's signup): the code verifies that user.
      userId = await deps.repo.findUserId(tenant, identity);
      if (userId === undefined) throw errors.noPendingOtp();
    }
    const consumed = await deps.repo.consumeOtp(tenant, identity, otp.challengeId, userId);
    if (consumed === 'gone') throw errors.noPendingOtp();
    if (consumed === 'no-user') throw errors.userNotFound();
    return userId;
  };

  return {
    /** Creates the user and sends the first code. Delivery failure undoes the signup, so it can be retried. */
    async signup(tenant: Tenant, identity: Identity, sender: Sender): Promise<Issued & { userId: string }> {
      const userId = newId();
      const { code, otp } = await newChallenge(tenant, identity, sender.channel, userId);
      const user = { userId, ...userFields(identity), createdAt: new Date(otp.createdAt).toISOString() };
      try {
        await deps.repo.createUserWithOtp(tenant, identity, user, otp);
      } catch (error) {
        if (error instanceof IdentityTakenError) throw errors.userExists();
        throw error;
      }
      try {
        await deliver(sender, tenant, identity, code);
      } catch (error) {
        await deps.repo.deleteUserWithOtp(tenant, identity, userId, otp.challengeId).catch((undoError: unknown) =>
          log.error('could not undo signup after failed delivery', { ...where(tenant, identity), ...describeError(undoError) }),
        );
        throw error;
      }
      return { userId, challengeId: otp.challengeId };
    },

    /** Sends a new code to a registered user; it replaces any code still pending. */
    async login(tenant: Tenant, identity: Identity, sender: Sender): Promise<Issued & { userId: string }> {
      const userId = await deps.repo.findUserId(tenant, identity);
      if (userId === undefined) throw errors.userNotFound();
      return { ...(await replaceAndSend(tenant, identity, sender, userId)), userId };
    },

    /**
     * Sends a code to any valid address, registered or not (styles without a signup step). The
     * user, if any, is looked up now; an unknown one is created by verify under the 'create' policy.
     */
    async start(tenant: Tenant, identity: Identity, sender: Sender): Promise<Issued> {
      return replaceAndSend(tenant, identity, sender, await deps.repo.findUserId(tenant, identity));
    },

    /**
     * Verifies a submitted code. The attempt is counted before the comparison and the code is
     * consumed with a conditional write, so of any number of concurrent verifies with the right
     * code exactly one succeeds, and no burst of guesses gets more than maxAttempts tries.
     */
    async verify(tenant: Tenant, identity: Identity, submitted: string, options: VerifyOptions = {}): Promise<{ userId: string | undefined; challengeId: string }> {
      // Before the attempt is counted: a pepper that cannot be loaded must not cost the user a try.
      const pepper = await deps.pepper();
      const at = now();
      const outcome = await deps.repo.countAttempt(tenant, identity, at, options.challengeId);
      if (outcome.kind === 'none') throw errors.noPendingOtp();
      if (outcome.kind === 'expired') throw errors.otpExpired();
      if (outcome.kind === 'exhausted') throw errors.tooManyAttempts();

      const { otp } = outcome;
      if (!codeMatches(pepper, binding(tenant, identity, otp.challengeId), submitted, otp.codeHash)) {
        log.info('wrong code', { ...where(tenant, identity, otp.channel), attempts: otp.attempts });
        throw errors.invalidOtp(Math.max(otp.maxAttempts - otp.attempts, 0));
      }
      // Another request with the right code may have got here first: only one consume wins.
      const userId = await consume(tenant, identity, otp, options.unknownUser ?? 'reject');
      log.info('code verified', where(tenant, identity, otp.channel));
      return { userId, challengeId: otp.challengeId };
    },
  };
};

export type Engine = ReturnType<typeof createEngine>;
