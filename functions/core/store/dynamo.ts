import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { TenantRef } from '#core/store/repository';

/** Plumbing every store module shares: key prefixes and how DynamoDB reports a lost condition. */

/** Every tenant-owned key starts with the tenant, so nothing of one project or environment can be addressed from another. */
export const tenantPrefix = (t: TenantRef) => `T#${t.projectId}#${t.environment}`;

export const cancelledBy = (error: unknown, index: number, code = 'ConditionalCheckFailed'): boolean =>
  error instanceof TransactionCanceledException && error.CancellationReasons?.[index]?.Code === code;

/** DynamoDB cancels a transaction that overlaps another one on the same item; it is safe to run again. */
export const conflicted = (error: unknown): boolean =>
  error instanceof TransactionCanceledException && (error.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict');

export const retryOnConflict = async <T>(run: () => Promise<T>, tries = 3): Promise<T> => {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await run();
    } catch (error) {
      if (!conflicted(error) || attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40 * attempt));
    }
  }
};
