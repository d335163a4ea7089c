import { randomBytes } from 'node:crypto';
import { createProject, issueAppKey } from '#core/tenancy/projects';
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
