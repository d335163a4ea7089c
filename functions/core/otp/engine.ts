import { randomUUID } from 'node:crypto';
import { ConfigError, errors } from '#core/errors';
import type { Identity } from '#core/otp/identity';
import { describeError, log, mask } from '#core/log';
import { codeMatches, generateCode, hashCode, secureRandomInt, type RandomInt } from '#core/otp/codes';
import { IdentityTakenError, type OtpRecord, type Repository, type TenantRef } from '#core/store/repository';
import type { ProjectSettings } from '#core/tenancy/settings';

/**
 * The OTP engine: issue a code to an identity, verify it. It knows nothing of any one API's
 * request or response shapes, so every API style (these docs', the verification-id flow, the
 * WhatsApp flow) can sit on top of it.
 */

export interface Tenant extends TenantRef {
  readonly settings: ProjectSettings;
}

/** A code ready to go out; the sender turns it into an SMS or an email. */
export interface OutgoingCode {
  readonly identity: Identity;
  readonly code: string;
  readonly settings: ProjectSettings;
}

export type Deliver = (message: OutgoingCode) => Promise<void>;

export interface EngineDeps {
  readonly repo: Repository;
  readonly pepper: () => Promise<Uint8Array>;
  readonly now?: () => number;
  readonly randomInt?: RandomInt;
  readonly newId?: () => string;
}

/** What an operator may see of a request: the tenant, the channel and a masked address. */
const where = (tenant: TenantRef, identity: Identity) => ({
  projectId: tenant.projectId,
  environment: tenant.environment,
  channel: identity.channel,
  to: mask(identity.address),
});

const binding = (tenant: TenantRef, identity: Identity, challengeId: string) =>
  [tenant.projectId, tenant.environment, identity.channel, identity.address, challengeId].join('\0');

export const createEngine = (deps: EngineDeps) => {
  const now = deps.now ?? Date.now;
  const randomInt = deps.randomInt ?? secureRandomInt;
  const newId = deps.newId ?? randomUUID;

  const newChallenge = async (tenant: Tenant, identity: Identity, userId: string) => {
    const code = generateCode(tenant.settings.codeLength, randomInt);
    const challengeId = newId();
    const issuedAt = now();
    const otp: OtpRecord = {
      challengeId,
      userId,
      codeHash: hashCode(await deps.pepper(), binding(tenant, identity, challengeId), code),
      expiresAt: issuedAt + tenant.settings.otpTtlSeconds * 1000,
      attempts: 0,
      maxAttempts: tenant.settings.maxAttempts,
      createdAt: issuedAt,
    };
    return { code, otp };
  };

  const send = async (deliver: Deliver, tenant: Tenant, identity: Identity, code: string) => {
    try {
      await deliver({ identity, code, settings: tenant.settings });
    } catch (error) {
      // A deployment that cannot send at all is ours to fix (a 500 with the setting named in the log), not the provider's.
      if (error instanceof ConfigError) throw error;
      log.warn('code delivery failed', { ...where(tenant, identity), ...describeError(error) });
      throw errors.deliveryFailed(identity.channel, error);
    }
    log.info('code sent', where(tenant, identity));
  };

  return {
    /** Creates the user and sends the first code. Delivery failure undoes the signup, so it can be retried. */
    async signup(tenant: Tenant, identity: Identity, deliver: Deliver): Promise<{ userId: string }> {
      const userId = newId();
      const { code, otp } = await newChallenge(tenant, identity, userId);
      const user = {
        userId,
        ...(identity.channel === 'sms' ? { mobile: identity.address } : { email: identity.address }),
        createdAt: new Date(otp.createdAt).toISOString(),
      };
      try {
        await deps.repo.createUserWithOtp(tenant, identity, user, otp);
      } catch (error) {
        if (error instanceof IdentityTakenError) throw errors.userExists();
        throw error;
      }
      try {
        await send(deliver, tenant, identity, code);
      } catch (error) {
        await deps.repo.deleteUserWithOtp(tenant, identity, userId, otp.challengeId).catch((undoError: unknown) =>
          log.error('could not undo signup after failed delivery', { ...where(tenant, identity), ...describeError(undoError) }),
        );
        throw error;
      }
      return { userId };
    },

    /** Sends a new code to a registered user; it replaces any code still pending. */
    async login(tenant: Tenant, identity: Identity, deliver: Deliver): Promise<{ userId: string }> {
      const userId = await deps.repo.findUserId(tenant, identity);
      if (userId === undefined) throw errors.userNotFound();
      const { code, otp } = await newChallenge(tenant, identity, userId);
      const previous = await deps.repo.putOtp(tenant, identity, otp);
      try {
        await send(deliver, tenant, identity, code);
      } catch (error) {
        // The user never got the new code: give back the one they may still hold.
        await deps.repo.restoreOtp(tenant, identity, otp.challengeId, previous).catch((undoError: unknown) =>
          log.error('could not restore the previous code after failed delivery', { ...where(tenant, identity), ...describeError(undoError) }),
        );
        throw error;
      }
      return { userId };
    },

    /**
     * Verifies a submitted code. The attempt is counted before the comparison and the code is
     * consumed with a conditional transaction, so of any number of concurrent verifies with the
     * right code exactly one succeeds, and no burst of guesses gets more than maxAttempts tries.
     */
    async verify(tenant: Tenant, identity: Identity, submitted: string): Promise<{ userId: string }> {
      // Before the attempt is counted: a pepper that cannot be loaded must not cost the user a try.
      const pepper = await deps.pepper();
      const at = now();
      const outcome = await deps.repo.countAttempt(tenant, identity, at);
      if (outcome.kind === 'none') throw errors.noPendingOtp();
      if (outcome.kind === 'expired') throw errors.otpExpired();
      if (outcome.kind === 'exhausted') throw errors.tooManyAttempts();

      const { otp } = outcome;
      if (!codeMatches(pepper, binding(tenant, identity, otp.challengeId), submitted, otp.codeHash)) {
        log.info('wrong code', { ...where(tenant, identity), attempts: otp.attempts });
        throw errors.invalidOtp(Math.max(otp.maxAttempts - otp.attempts, 0));
      }
      // Another request with the right code may have got here first: only one consume wins.
      const consumed = await deps.repo.consumeOtp(tenant, identity, otp.challengeId, otp.userId);
      if (consumed === 'gone') throw errors.noPendingOtp();
      if (consumed === 'no-user') throw errors.userNotFound();
      log.info('code verified', where(tenant, identity));
      return { userId: otp.userId };
    },
  };
};

export type Engine = ReturnType<typeof createEngine>;
