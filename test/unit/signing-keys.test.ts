import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { ConfigError } from '#core/errors';
import { signingKeyFromSeed } from '#core/tokens/access-tokens';
import { fileSigningSecretStore, rotationStep, type RotationEvent } from '#core/tokens/signing-key-rotation';
import {
  createTenantKeys,
  parseKeyMaterial,
  publishedSeeds,
  rotateKeyMaterial,
  RotationTooSoonError,
  signingSeed,
  type KeyMaterial,
} from '#core/tokens/signing-keys';
import { makeHandler as makeRotationHandler } from '../../functions/rotate-signing-key';

const seedA = 'seed-A-0123456789abcdef0123456789abcdef';
const seedB = 'seed-B-0123456789abcdef0123456789abcdef';
const tenant = { projectId: 'p', environment: 'dev' };
const t0 = Date.parse('2025-03-01T00:00:00.000Z');
const minutes = (n: number) => n * 60_000;
const hours = (n: number) => n * 3_600_000;

describe('the secret', () => {
  test('a plain seed, as the stack generates it, is the current seed and nothing else', () => {
    expect(parseKeyMaterial(`  ${seedA}\n`)).toEqual({ current: seedA });
  });

  test('rotated JSON round-trips', () => {
    const material = rotateKeyMaterial({ current: seedA }, { now: t0, newSeed: seedB });
    expect(parseKeyMaterial(JSON.stringify(material))).toEqual(material);
  });

  test.each([
    ['a short seed', 'too-short'],
    ['broken JSON', '{"current":'],
    ['JSON without current', JSON.stringify({ previous: seedA })],
    ['a short previous seed', JSON.stringify({ current: seedA, previous: 'x' })],
    ['a bad timestamp', JSON.stringify({ current: seedA, previous: seedB, activatesAt: 'tomorrow' })],
  ])('%s is a configuration error that names no value', (_name, secret) => {
    expect(() => parseKeyMaterial(secret)).toThrow(ConfigError);
    try {
      parseKeyMaterial(secret);
    } catch (error) {
      expect(String(error)).not.toContain(seedA);
      expect(String(error)).not.toContain('too-short');
    }
  });
});

describe('rotation', () => {
  test('the seed that signed becomes previous; the new one is published at once and signs 10 minutes later', () => {
    const rotated = rotateKeyMaterial({ current: seedA }, { now: t0, newSeed: seedB });
    expect(rotated).toEqual({ current: seedB, previous: seedA, rotatedAt: new Date(t0).toISOString(), activatesAt: new Date(t0 + minutes(10)).toISOString() });
    expect(publishedSeeds(rotated, t0)).toEqual([seedA, seedB]);
    expect(signingSeed(rotated, t0 + minutes(10) - 1)).toBe(seedA);
    expect(signingSeed(rotated, t0 + minutes(10))).toBe(seedB);
    expect(publishedSeeds(rotated, t0 + minutes(10))).toEqual([seedB, seedA]);
  });

  test('each rotation makes a fresh random seed', () => {
    const [a, b] = [rotateKeyMaterial({ current: seedA }, { now: t0 }), rotateKeyMaterial({ current: seedA }, { now: t0 })];
    expect(a.current).not.toBe(b.current);
    expect(a.current.length).toBeGreaterThanOrEqual(64);
  });

  test('a second rotation within a day and 10 minutes is refused unless forced, naming when it may run', () => {
    const once = rotateKeyMaterial({ current: seedA }, { now: t0, newSeed: seedB });
    expect(() => rotateKeyMaterial(once, { now: t0 + hours(24) })).toThrow(RotationTooSoonError);
    expect(() => rotateKeyMaterial(once, { now: t0 + hours(24) })).toThrow(new Date(t0 + hours(24) + minutes(10)).toISOString());
    expect(rotateKeyMaterial(once, { now: t0 + hours(24) + minutes(10) }).previous).toBe(seedB);
    // Forced during the activation window: the seed still signing is kept, the never-used one is dropped.
    expect(rotateKeyMaterial(once, { now: t0 + minutes(1), force: true }).previous).toBe(seedA);
  });
});

describe('createTenantKeys', () => {
  const setup = (initial: KeyMaterial | string) => {
    let secret = typeof initial === 'string' ? initial : JSON.stringify(initial);
    let now = t0;
    let loads = 0;
    let failing = false;
    const keys = createTenantKeys({
      loadSecret: async () => {
        loads += 1;
        if (failing) throw new Error('ThrottlingException');
        return secret;
      },
      now: () => now,
    });
    return {
      keys,
      set: (value: KeyMaterial) => void (secret = JSON.stringify(value)),
      at: (ms: number) => void (now = ms),
      fail: (value: boolean) => void (failing = value),
      loads: () => loads,
    };
  };

  test('a warm container picks up a rotation after its 5-minute cache, and keeps accepting the old key', async () => {
    const s = setup(seedA);
    const [a, b] = await Promise.all([signingKeyFromSeed(seedA, tenant), signingKeyFromSeed(seedB, tenant)]);
    expect((await s.keys.signingKey(tenant)).kid).toBe(a.kid);
    s.set({ current: seedB, previous: seedA, rotatedAt: new Date(t0).toISOString(), activatesAt: new Date(t0).toISOString() });
    s.at(t0 + minutes(5) - 1);
    expect((await s.keys.verificationKeys(tenant)).map((k) => k.kid)).toEqual([a.kid]);
    s.at(t0 + minutes(5));
    expect((await s.keys.signingKey(tenant)).kid).toBe(b.kid);
    expect((await s.keys.verificationKeys(tenant)).map((k) => k.kid)).toEqual([b.kid, a.kid]);
    expect(s.loads()).toBe(2);
  });

  test('concurrent requests share one load', async () => {
    const s = setup(seedA);
    await Promise.all(Array.from({ length: 10 }, () => s.keys.signingKey(tenant)));
    expect(s.loads()).toBe(1);
  });

  test('a failed reload keeps the cached keys and tries again 30 seconds later; a failed first load fails', async () => {
    const cold = setup(seedA);
    cold.fail(true);
    await expect(cold.keys.signingKey(tenant)).rejects.toThrow('ThrottlingException');

    const s = setup(seedA);
    const key = await s.keys.signingKey(tenant);
    s.fail(true);
    s.at(t0 + minutes(6));
    expect((await s.keys.signingKey(tenant)).kid).toBe(key.kid);
    expect(s.loads()).toBe(2);
    s.at(t0 + minutes(6) + 29_000);
    await s.keys.signingKey(tenant);
    expect(s.loads()).toBe(2);
    s.at(t0 + minutes(6) + 30_000);
    s.fail(false);
    await s.keys.signingKey(tenant);
    expect(s.loads()).toBe(3);
  });
});

describe('fileSigningSecretStore', () => {
  test('rewrites the file in place, readable by its owner only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otpgate-signing-'));
    try {
      const store = fileSigningSecretStore(dir);
      await expect(store.read()).resolves.toBeUndefined();
      await writeFile(join(dir, 'signing-key'), seedA);
      await store.write('{"current":"x"}');
      expect(await readFile(join(dir, 'signing-key'), 'utf8')).toBe('{"current":"x"}');
      expect((await stat(join(dir, 'signing-key'))).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Secrets Manager rotation steps', () => {
  const sm = mockClient(SecretsManagerClient);
  afterAll(() => sm.restore());

  /** A small stand-in for one secret's versions and stages, enough to run the four steps as Secrets Manager would. */
  const fakeSecret = (initial: string) => {
    const versions = new Map<string, { value?: string; stages: string[] }>([['v1', { value: initial, stages: ['AWSCURRENT'] }]]);
    const find = (stage: string) => [...versions.entries()].find(([, v]) => v.stages.includes(stage));
    sm.reset();
    sm.on(DescribeSecretCommand).callsFake(() => ({
      RotationEnabled: true,
      VersionIdsToStages: Object.fromEntries([...versions.entries()].map(([id, v]) => [id, v.stages])),
    }));
    sm.on(GetSecretValueCommand).callsFake((input: { VersionId?: string; VersionStage?: string }) => {
      const id = input.VersionId ?? find(input.VersionStage ?? 'AWSCURRENT')?.[0];
      const version = id === undefined ? undefined : versions.get(id);
      if (!version?.value || (input.VersionStage !== undefined && !version.stages.includes(input.VersionStage))) {
        throw new ResourceNotFoundException({ message: 'not found', $metadata: {} });
      }
      return { SecretString: version.value, VersionId: id };
    });
    sm.on(PutSecretValueCommand).callsFake((input: { ClientRequestToken: string; SecretString: string; VersionStages: string[] }) => {
      versions.set(input.ClientRequestToken, { value: input.SecretString, stages: input.VersionStages });
      return {};
    });
    sm.on(UpdateSecretVersionStageCommand).callsFake((input: { VersionStage: string; MoveToVersionId: string; RemoveFromVersionId?: string }) => {
      if (input.RemoveFromVersionId) {
        const old = versions.get(input.RemoveFromVersionId)!;
        old.stages = old.stages.filter((s) => s !== input.VersionStage).concat('AWSPREVIOUS');
      }
      const moved = versions.get(input.MoveToVersionId)!;
      moved.stages = moved.stages.filter((s) => s !== 'AWSPENDING').concat(input.VersionStage);
      return {};
    });
    return {
      versions,
      current: () => find('AWSCURRENT')?.[1].value,
      /** What RotateSecret does before it invokes the function: a pending version with no value yet. */
      startRotation: (token: string) => void versions.set(token, { stages: ['AWSPENDING'] }),
    };
  };

  const rotationHandler = makeRotationHandler({ client: new SecretsManagerClient({ region: 'us-east-1' }), now: () => t0 });
  const run = async (token: string, steps: RotationEvent['Step'][] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) => {
    for (const Step of steps) await rotationHandler({ Step, SecretId: 'arn:signing', ClientRequestToken: token });
  };

  test('the four steps turn the plain seed into {current, previous} and make it AWSCURRENT', async () => {
    const secret = fakeSecret(seedA);
    secret.startRotation('v2');
    await run('v2');
    const rotated = parseKeyMaterial(secret.current()!);
    expect(rotated.previous).toBe(seedA);
    expect(rotated.current).not.toBe(seedA);
    expect(rotated.activatesAt).toBe(new Date(t0 + minutes(10)).toISOString());
    expect(secret.versions.get('v1')!.stages).toEqual(['AWSPREVIOUS']);
  });

  test('every step may be retried without rotating twice', async () => {
    const secret = fakeSecret(seedA);
    secret.startRotation('v2');
    await run('v2', ['createSecret', 'createSecret', 'setSecret', 'testSecret', 'testSecret', 'finishSecret']);
    const once = secret.current();
    await run('v2');
    expect(secret.current()).toBe(once);
    expect(parseKeyMaterial(once!).previous).toBe(seedA);
  });

  test('a second scheduled rotation keeps the key that signs now as previous, even within a day', async () => {
    const secret = fakeSecret(seedA);
    secret.startRotation('v2');
    await run('v2');
    const first = parseKeyMaterial(secret.current()!);
    secret.startRotation('v3');
    await run('v3');
    // Within the first rotation's activation window seedA still signs, so it stays.
    expect(parseKeyMaterial(secret.current()!).previous).toBe(signingSeed(first, t0));
  });

  test('a malformed pending value fails the test step, so it never becomes current', async () => {
    const secret = fakeSecret(seedA);
    secret.versions.set('bad', { value: '{"current":"short"}', stages: ['AWSPENDING'] });
    await expect(run('bad', ['testSecret'])).rejects.toThrow();
    expect(secret.current()).toBe(seedA);
  });

  test('an unknown version or one that is not pending is refused', async () => {
    fakeSecret(seedA);
    await expect(run(randomUUID(), ['createSecret'])).rejects.toThrow(/does not have/);
    const secret = fakeSecret(seedA);
    secret.versions.set('stray', { value: seedB, stages: [] });
    await expect(run('stray', ['createSecret'])).rejects.toThrow(/not pending/);
  });
});
