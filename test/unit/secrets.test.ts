import { jest } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { cached, fileSecrets, requiredSecret, secretsManagerSecrets, type SecretSource } from '#core/secrets';

describe('fileSecrets', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'otpgate-unit-secrets-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('reads the secret file, trimmed', async () => {
    await writeFile(join(dir, 'pepper'), '  pepper-value\n');
    await expect(fileSecrets(dir)('pepper')).resolves.toBe('pepper-value');
  });

  test('returns undefined for a secret with no file', async () => {
    await expect(fileSecrets(dir)('twilio')).resolves.toBeUndefined();
  });

  test('surfaces an unreadable secret instead of treating it as unconfigured', async () => {
    await mkdir(join(dir, 'signing-key'));
    await expect(fileSecrets(dir)('signing-key')).rejects.toThrow();
  });
});

describe('secretsManagerSecrets', () => {
  const sm = mockClient(SecretsManagerClient);
  beforeEach(() => sm.reset());
  afterAll(() => sm.restore());

  const client = new SecretsManagerClient({ region: 'us-east-1' });

  test('returns the SecretString of the configured secret id', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'arn:pepper' }).resolves({ SecretString: 'pepper-value' });
    const source = secretsManagerSecrets(client, { pepper: 'arn:pepper' });
    await expect(source('pepper')).resolves.toBe('pepper-value');
    const calls = sm.commandCalls(GetSecretValueCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.SecretId).toBe('arn:pepper');
  });

  test('returns undefined without calling AWS for a secret with no id', async () => {
    const source = secretsManagerSecrets(client, { pepper: 'arn:pepper' });
    await expect(source('twilio')).resolves.toBeUndefined();
    expect(sm.calls()).toHaveLength(0);
  });
});

describe('cached', () => {
  test('calls the loader once for concurrent and repeated calls', async () => {
    const loader = jest.fn(async () => 'value');
    const get = cached(loader);
    await expect(Promise.all([get(), get(), get()])).resolves.toEqual(['value', 'value', 'value']);
    await expect(get()).resolves.toBe('value');
    expect(loader).toHaveBeenCalledTimes(1);
  });

  test('does not cache a failed load: the next call retries and can succeed', async () => {
    const loader = jest
      .fn<() => Promise<string>>()
      .mockRejectedValueOnce(new Error('throttled'))
      .mockResolvedValueOnce('value');
    const get = cached(loader);
    await expect(get()).rejects.toThrow('throttled');
    await expect(get()).resolves.toBe('value');
    await expect(get()).resolves.toBe('value');
    expect(loader).toHaveBeenCalledTimes(2);
  });
});

describe('requiredSecret', () => {
  const source =
    (values: Record<string, string>): SecretSource =>
    async (name) =>
      values[name];

  test('returns a configured secret', async () => {
    await expect(requiredSecret(source({ pepper: 'pepper-value' }), 'pepper')).resolves.toBe('pepper-value');
  });

  test.each([
    ['missing', {}],
    ['empty', { pepper: '' }],
  ])('throws a ConfigError naming the secret when it is %s', async (_label, values) => {
    const error = await requiredSecret(source({ ...values, twilio: 'twilio-value' }), 'pepper').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('ConfigError');
    expect((error as Error).message).toContain('"pepper"');
    expect((error as Error).message).not.toContain('twilio-value');
  });
});
