import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import { ConfigError } from '#core/errors';
import { describeError, log } from '#core/log';
import type { TenantRef } from '#core/store/repository';
import { signingKeyFromSeed, type SigningKey } from '#core/tokens/access-tokens';

/**
 * The signing-key secret and its rotation. The secret holds seeds, not keys: every project and
 * environment derives its own key from a seed (access-tokens.ts). Before its first rotation the
 * secret is the plain seed the stack generated; a rotation turns it into JSON
 *   {"current":"<seed>","previous":"<seed>","rotatedAt":"<ISO>","activatesAt":"<ISO>"}
 * and both keys are published in the JWKS, so tokens signed with the previous key keep verifying.
 *
 * Why `activatesAt`: containers cache the secret (KEY_CACHE_SECONDS) and relying parties may cache
 * the JWKS (JWKS_MAX_AGE_SECONDS). If the new key signed at once, a warm container's JWKS (or a
 * cached copy) would not list it yet and its tokens would fail to verify there. So the new key is
 * published at once and signs only after both caches have turned over; until then `previous` signs.
 */

export const KEY_CACHE_SECONDS = 300;
export const JWKS_MAX_AGE_SECONDS = 300;
export const ACTIVATION_DELAY_SECONDS = KEY_CACHE_SECONDS + JWKS_MAX_AGE_SECONDS;
/** The longest an access token lives (the tokenTtlSeconds ceiling in tenancy/settings.ts). */
const MAX_ACCESS_TOKEN_SECONDS = 86_400;
/**
 * A rotation drops the key before `previous`. Tokens signed by today's previous key may be signed
 * until the last rotation activated and live a day more; rotating again sooner would break them.
 */
export const MIN_ROTATION_INTERVAL_SECONDS = ACTIVATION_DELAY_SECONDS + MAX_ACCESS_TOKEN_SECONDS;

export interface KeyMaterial {
  readonly current: string;
  readonly previous?: string;
  readonly rotatedAt?: string;
  /** Until this instant `previous` still signs. */
  readonly activatesAt?: string;
}

const seed = v.pipe(v.string(), v.minLength(32, 'a seed must be at least 32 characters'));
const instant = v.pipe(v.string(), v.isoTimestamp());
const materialSchema = v.object({
  current: seed,
  previous: v.optional(seed),
  rotatedAt: v.optional(instant),
  activatesAt: v.optional(instant),
});

/** Reads the secret's value: a plain seed (as the stack generates it) or rotated JSON. */
export const parseKeyMaterial = (secret: string): KeyMaterial => {
  const text = secret.trim();
  let json: unknown = { current: text };
  if (text.startsWith('{')) {
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new ConfigError('the signing-key secret is neither a seed nor valid JSON', { cause: error });
    }
  }
  const result = v.safeParse(materialSchema, json);
  if (!result.success) throw new ConfigError(`the signing-key secret is malformed: ${result.issues[0].message}`);
  return result.output;
};

export const serialiseKeyMaterial = (material: KeyMaterial): string => JSON.stringify(material);

/** The seed that signs at `now`: the previous one until the current one activates. */
export const signingSeed = (material: KeyMaterial, now: number): string =>
  material.previous !== undefined && material.activatesAt !== undefined && Date.parse(material.activatesAt) > now
    ? material.previous
    : material.current;

/** Every seed whose key the JWKS publishes, the signing one first. */
export const publishedSeeds = (material: KeyMaterial, now: number): string[] => {
  const signing = signingSeed(material, now);
  return [signing, ...[material.current, material.previous].filter((s): s is string => s !== undefined && s !== signing)];
};

/** Proves that material can sign: every seed in it derives a key (a rotation's test step). */
export const checkKeyMaterial = async (material: KeyMaterial): Promise<void> => {
  const probe = { projectId: 'rotation-check', environment: 'check' };
  await Promise.all([material.current, material.previous].filter((s): s is string => s !== undefined).map((s) => signingKeyFromSeed(s, probe)));
};

export class RotationTooSoonError extends Error {
  readonly earliest: Date;

  constructor(earliest: Date) {
    super(
      `otpgate: the signing key was rotated less than ${Math.floor(MIN_ROTATION_INTERVAL_SECONDS / 3600)} h ${Math.round((MIN_ROTATION_INTERVAL_SECONDS % 3600) / 60)} min ago; rotating again before ` +
        `${earliest.toISOString()} would reject tokens signed with the key it drops (force to do it anyway, e.g. after a leak)`,
    );
    this.name = 'RotationTooSoonError';
    this.earliest = earliest;
  }
}

export interface RotateOptions {
  readonly now: number;
  /** 48 random bytes by default. */
  readonly newSeed?: string;
  /** Seconds until the new key signs; ACTIVATION_DELAY_SECONDS unless no cache can hold the old secret (a fresh local server). */
  readonly activationDelaySeconds?: number;
  /** Rotate even within MIN_ROTATION_INTERVAL_SECONDS of the last rotation (a leaked key: rotate twice to drop it). */
  readonly force?: boolean;
}

/** The material after one rotation: a new current seed; the seed signing now becomes previous. */
export const rotateKeyMaterial = (material: KeyMaterial, options: RotateOptions): KeyMaterial => {
  if (!options.force && material.rotatedAt !== undefined) {
    const earliest = Date.parse(material.rotatedAt) + MIN_ROTATION_INTERVAL_SECONDS * 1000;
    if (options.now < earliest) throw new RotationTooSoonError(new Date(earliest));
  }
  const delay = options.activationDelaySeconds ?? ACTIVATION_DELAY_SECONDS;
  return v.parse(materialSchema, {
    current: options.newSeed ?? randomBytes(48).toString('base64url'),
    previous: signingSeed(material, options.now),
    rotatedAt: new Date(options.now).toISOString(),
    activatesAt: new Date(options.now + delay * 1000).toISOString(),
  });
};

/** Where a rotation reads and writes the secret: a file locally, Secrets Manager's rotation steps in AWS. */
export interface SigningSecretStore {
  read(): Promise<string | undefined>;
  write(value: string): Promise<void>;
}

export interface RotationResult {
  readonly rotatedAt: Date;
  readonly activatesAt: Date;
}

/**
 * Rotates the signing key in place: callable on its own (the `keys:rotate-signing` script, and the
 * CLI), given any store of the secret.
 */
export const rotateSigningKey = async (store: SigningSecretStore, options: Partial<RotateOptions> = {}): Promise<RotationResult> => {
  const secret = await store.read();
  if (secret === undefined || secret.trim() === '') throw new ConfigError('there is no signing-key secret to rotate');
  const rotated = rotateKeyMaterial(parseKeyMaterial(secret), { ...options, now: options.now ?? Date.now() });
  await store.write(serialiseKeyMaterial(rotated));
  return { rotatedAt: new Date(rotated.rotatedAt!), activatesAt: new Date(rotated.activatesAt!) };
};

export interface TenantKeys {
  /** The key that signs now. */
  readonly signingKey: (tenant: TenantRef) => Promise<SigningKey>;
  /** Every key the JWKS publishes and tokens are accepted with, the signing key first. */
  readonly verificationKeys: (tenant: TenantRef) => Promise<readonly SigningKey[]>;
}

export interface TenantKeysOptions {
  readonly loadSecret: () => Promise<string>;
  readonly now?: () => number;
  readonly cacheSeconds?: number;
}

// After a failed reload, wait this long before trying Secrets Manager again, serving the cached keys meanwhile.
const RETRY_AFTER_FAILURE_MS = 30_000;

interface Snapshot {
  readonly material: KeyMaterial;
  readonly loadedAt: number;
  readonly keys: Map<string, Promise<SigningKey>>;
}

/**
 * Per-tenant keys from the secret, re-read every `cacheSeconds` (a rotation reaches a warm container
 * within that time). A reload that fails keeps the keys already known rather than failing requests.
 */
export const createTenantKeys = (options: TenantKeysOptions): TenantKeys => {
  const now = options.now ?? Date.now;
  const maxAgeMs = (options.cacheSeconds ?? KEY_CACHE_SECONDS) * 1000;
  let snapshot: Snapshot | undefined;
  let loading: Promise<Snapshot> | undefined;

  const load = async (): Promise<Snapshot> => {
    const material = parseKeyMaterial(await options.loadSecret());
    return { material, loadedAt: now(), keys: new Map() };
  };

  const fresh = (): Promise<Snapshot> => {
    if (snapshot && now() - snapshot.loadedAt < maxAgeMs) return Promise.resolve(snapshot);
    loading ??= load()
      .then(
        (loaded) => (snapshot = loaded),
        (error: unknown) => {
          if (!snapshot) throw error;
          log.warn('could not reload the signing key; using the cached one', describeError(error));
          snapshot = { ...snapshot, loadedAt: now() - maxAgeMs + RETRY_AFTER_FAILURE_MS };
          return snapshot;
        },
      )
      .finally(() => {
        loading = undefined;
      });
    return loading;
  };

  const keyFor = (snap: Snapshot, seedValue: string, tenant: TenantRef): Promise<SigningKey> => {
    const id = `${seedValue === snap.material.current ? 'current' : 'previous'}\0${tenant.projectId}\0${tenant.environment}`;
    let key = snap.keys.get(id);
    if (!key) {
      key = signingKeyFromSeed(seedValue, tenant);
      snap.keys.set(id, key);
    }
    return key;
  };

  return {
    async signingKey(tenant) {
      const snap = await fresh();
      return keyFor(snap, signingSeed(snap.material, now()), tenant);
    },
    async verificationKeys(tenant) {
      const snap = await fresh();
      return Promise.all(publishedSeeds(snap.material, now()).map((s) => keyFor(snap, s, tenant)));
    },
  };
};
