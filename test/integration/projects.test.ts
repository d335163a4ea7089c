import { randomBytes } from 'node:crypto';
import { createKeyTenantResolver } from '#core/http/route';
import { changeSettings, createProject, issueAppKey, listAppKeys, revokeAppKey, rotateAppKey } from '#core/tenancy/projects';
import { appKeyId, hashAppKey } from '#core/tenancy/app-keys';
import { KEY_CACHE_TTL_MS } from '#core/tenancy/key-cache';
import { SettingsError } from '#core/tenancy/settings-input';
import { SettingsChangedError } from '#core/store/repository';
import { runtime } from '#core/runtime';
import { handler as signup } from '../../functions/email-otp-signup';
import { call, event, uniqueEmail } from '../support/harness';

/** Project and key records in DynamoDB Local: what project:create and the local stack rely on. */

const id = () => `p-${randomBytes(5).toString('hex')}`;

test('a further key for an environment works alongside the first', async () => {
  const { repo } = runtime();
  const projectId = id();
  const created = await createProject(repo, { projectId, environments: ['dev'] });
  const second = await issueAppKey(repo, { projectId, environment: 'dev' });
  expect(second).not.toBe(created.keys[0]!.appKey);
  for (const appKey of [created.keys[0]!.appKey, second]) {
    expect((await call(signup, event({ projectId, environment: 'dev' }, { appKey, body: { email: uniqueEmail() } }))).status).toBe(201);
  }
});

test('no key can be issued for a project that does not exist', async () => {
  const { repo } = runtime();
  const projectId = id();
  await expect(issueAppKey(repo, { projectId, environment: 'dev' })).rejects.toThrow();
  expect(await repo.findProject(projectId)).toBeUndefined();
  expect(await repo.environmentExists({ projectId, environment: 'dev' })).toBe(false);
});

test('creating a project is all or nothing', async () => {
  const { repo } = runtime();
  const projectId = id();
  await createProject(repo, { projectId, environments: ['dev'] });
  // The second attempt collides on the project record; none of its new environments may appear.
  await expect(createProject(repo, { projectId, environments: ['dev', 'staging'] })).rejects.toThrow('already exists');
  expect(await repo.environmentExists({ projectId, environment: 'staging' })).toBe(false);
});

describe('keys and settings as the CLI changes them', () => {
  const keyEvent = (appKey: string) => event({ projectId: 'x', environment: 'y' }, { headers: { 'x-api-key': appKey } });

  test('every key of a project is listed by id and hash, created with the project or later', async () => {
    const { repo } = runtime();
    const projectId = id();
    const created = await createProject(repo, { projectId, environments: ['dev', 'prod'] });
    const later = await issueAppKey(repo, { projectId, environment: 'dev' });
    const listed = await listAppKeys(repo, projectId);
    expect(listed.map((k) => [k.environment, k.keyId, k.keyHash])).toEqual([
      ['dev', created.keys[0]!.keyId, hashAppKey(created.keys[0]!.appKey)],
      ['dev', appKeyId(later), hashAppKey(later)],
      ['prod', created.keys[1]!.keyId, hashAppKey(created.keys[1]!.appKey)],
    ]);
    expect((await repo.listProjects()).find((p) => p.projectId === projectId)).toMatchObject({ name: projectId });
  });

  test('the key-only resolver (x-api-key) refuses a revoked key within the cache TTL, and a rotated one after its grace period', async () => {
    const { repo } = runtime();
    const projectId = id();
    const { keys } = await createProject(repo, { projectId, environments: ['dev'] });
    let clock = Date.now();
    const warm = createKeyTenantResolver(repo, '+91', { now: () => clock });
    await expect(warm(keyEvent(keys[0]!.appKey))).resolves.toMatchObject({ projectId, environment: 'dev' });

    const rotation = await rotateAppKey(repo, { projectId, environment: 'dev' }, { graceSeconds: 60 }, new Date(clock));
    await expect(warm(keyEvent(rotation.issued.appKey))).resolves.toMatchObject({ projectId });
    clock += KEY_CACHE_TTL_MS; // the cached record is re-read and now carries the grace period's end
    await expect(warm(keyEvent(keys[0]!.appKey))).resolves.toMatchObject({ projectId });
    clock = rotation.replacedExpiresAt!;
    await expect(warm(keyEvent(keys[0]!.appKey))).rejects.toMatchObject({ code: 'invalid_app_key' });

    await revokeAppKey(repo, projectId, rotation.issued.keyId);
    await expect(createKeyTenantResolver(repo, '+91')(keyEvent(rotation.issued.appKey))).rejects.toMatchObject({ code: 'invalid_app_key' });
    clock += KEY_CACHE_TTL_MS;
    await expect(warm(keyEvent(rotation.issued.appKey))).rejects.toMatchObject({ code: 'invalid_app_key' });
  });

  test('a revoked key and its listing entry go together; revoking twice finds nothing', async () => {
    const { repo } = runtime();
    const projectId = id();
    const { keys } = await createProject(repo, { projectId, environments: ['dev'] });
    await revokeAppKey(repo, projectId, keys[0]!.keyId);
    expect(await repo.findAppKey(hashAppKey(keys[0]!.appKey))).toBeUndefined();
    expect(await listAppKeys(repo, projectId)).toEqual([]);
    await expect(revokeAppKey(repo, projectId, keys[0]!.keyId)).rejects.toThrow(`has no key ${keys[0]!.keyId}`);
  });

  test('settings changed by someone else between read and write are not overwritten', async () => {
    const { repo } = runtime();
    const projectId = id();
    await createProject(repo, { projectId, environments: ['dev'], settings: { codeLength: 7 } });
    const read = await repo.findProject(projectId);
    await changeSettings(repo, projectId, { set: { maxAttempts: 3 } });
    await expect(repo.updateSettings(projectId, { ...read!.settings, appName: 'Late' }, read!.settingsRevision!)).rejects.toBeInstanceOf(SettingsChangedError);
    expect((await repo.findProject(projectId))!.settings).toEqual({ codeLength: 7, maxAttempts: 3 });
  });

  test('a project cannot be created with a setting the handlers would not accept', async () => {
    const { repo } = runtime();
    const projectId = id();
    await expect(createProject(repo, { projectId, environments: ['dev'], settings: { codeLength: 3 } })).rejects.toBeInstanceOf(SettingsError);
    expect(await repo.findProject(projectId)).toBeUndefined();
  });
});
