/**
 * The CloudWatch metrics otpgate's functions emit (Embedded Metric Format, namespace `otpgate`),
 * as data: the functions emit them and the stack's dashboard and alarms read them, so a renamed
 * metric or outcome fails type-checking on both sides instead of leaving an empty graph.
 *
 * Every metric has the dimensions below plus `service` (the stack name, so two stacks in one
 * account never mix); sends and verifications are also emitted per project (`projectId` added),
 * which stays low-cardinality: a deployment has tens of projects, never one per user.
 */
export const METRIC_NAMESPACE = 'otpgate';

export const METRIC = {
  /** A code that went to the provider (or not): dimensions channel, outcome (SendOutcome). */
  codeSends: 'CodeSends',
  /** A verify that reached a code decision: dimensions channel, outcome (VerifyOutcome). */
  verifications: 'Verifications',
  /** A request refused by an abuse limit: dimension limit (LimitName). */
  limitHits: 'LimitHits',
  /** A send refused by the project's spend cap: dimensions channel, cap. */
  spendCapReached: 'SpendCapReached',
  /** How long the provider (Twilio, SES) took to accept a message, in milliseconds: dimension channel. */
  providerLatency: 'ProviderLatency',
} as const;

export const SEND_OUTCOMES = ['delivered', 'failed', 'test'] as const;
/** delivered: the provider accepted it; failed: the provider refused or timed out; test: a test identifier's code, never sent. */
export type SendOutcome = (typeof SEND_OUTCOMES)[number];

export const VERIFY_OUTCOMES = ['success', 'wrong', 'expired', 'locked_out', 'no_pending', 'unknown_user'] as const;
/** locked_out: the code's tries or the identifier's failure limits are spent; no_pending: no code (or not this one) is waiting. */
export type VerifyOutcome = (typeof VERIFY_OUTCOMES)[number];

/** identifier_locked: a send refused because the identifier is locked by its failed verifications (its code could never verify). */
export const LIMIT_NAMES = ['resend_cooldown', 'identifier_sends', 'identifier_locked', 'ip_sends', 'spend_cap', 'failed_verifications', 'consecutive_failures', 'code_attempts'] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

export const CHANNELS = ['sms', 'whatsapp', 'email'] as const;
