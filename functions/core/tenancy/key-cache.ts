import type { AppKeyRecord } from '#core/store/repository';

/**
 * How long a warm container trusts an APP-KEY it has looked up. A revoked key keeps working at
 * most this long in a container that saw it just before; well under the 60 seconds promised for
 * revocation everywhere. Project records are never cached: settings apply to the next request.
 */
export const KEY_CACHE_TTL_MS = 30_000;

/** A container serves a handful of apps; the bound only stops a flood of distinct keys from growing memory. */
const MAX_ENTRIES = 1000;

export interface KeyCacheOptions {
  readonly ttlMs?: number;
  /** Injected in tests, so expiry is checked without waiting. */
  readonly now?: () => number;
}

export type KeyLookup = (keyHash: string) => Promise<AppKeyRecord | undefined>;

/**
 * Caches found keys by their hash (the plain key is never kept). Unknown keys are not cached:
 * a miss costs one read, exactly as before, and a key created a moment later works at once.
 */
export const cachedKeyLookup = (find: KeyLookup, options: KeyCacheOptions = {}): KeyLookup => {
  const ttlMs = options.ttlMs ?? KEY_CACHE_TTL_MS;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { record: AppKeyRecord; until: number }>();
  return async (keyHash) => {
    const hit = entries.get(keyHash);
    if (hit && hit.until > now()) return hit.record;
    entries.delete(keyHash);
    const record = await find(keyHash);
    if (record) {
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
      entries.set(keyHash, { record, until: now() + ttlMs });
    }
    return record;
  };
};

/** A key rotated with a grace period stops opening anything once its time is up. */
export const keyIsLive = (key: AppKeyRecord, now: number): boolean => key.expiresAt === undefined || key.expiresAt > now;
