import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { handler as signup } from '../../functions/mobile-otp-signup';
import { call, event, inbox, uniqueIndianMobile } from '../support/harness';

/** The first-project command, run as a user would, against the table in DynamoDB Local. */

const run = promisify(execFile);
const cli = (...args: string[]) =>
  run('npx', ['tsx', 'cli/project-create.ts', ...args, '--table', process.env.TABLE_NAME!], { env: process.env });

test('creates a project whose printed keys work, one per environment', async () => {
  const projectId = `cli-${randomBytes(4).toString('hex')}`;
  const { stdout } = await cli(projectId, '--env', 'dev', '--env', 'prod', '--json');
  const created = JSON.parse(stdout) as { projectId: string; keys: { environment: string; appKey: string }[] };
  expect(created.keys.map((k) => k.environment)).toEqual(['dev', 'prod']);

  for (const { environment, appKey } of created.keys) {
    const res = await call(signup, event({ projectId, environment }, { appKey, body: { country_code: '+91', mobile: uniqueIndianMobile() } }));
    expect(res.status).toBe(201);
  }
  const crossed = await call(signup, event({ projectId, environment: 'prod' }, { appKey: created.keys[0]!.appKey, body: { mobile: uniqueIndianMobile() } }));
  expect(crossed.body.error.code).toBe('invalid_app_key');
});

test('--settings are validated and stored: an 8-digit code project sends 8-digit codes', async () => {
  const projectId = `cli-${randomBytes(4).toString('hex')}`;
  await expect(cli(projectId, '--settings', '{"codeLength":3}', '--json')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('codeLength') });
  await expect(cli(projectId, '--settings', '{"codelength":8}', '--json')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('codelength') });
  const { stdout } = await cli(projectId, '--env', 'dev', '--settings', '{"codeLength":8,"appName":"Acme"}', '--json');
  const appKey = (JSON.parse(stdout) as { keys: { appKey: string }[] }).keys[0]!.appKey;
  const mobile = uniqueIndianMobile();
  expect((await call(signup, event({ projectId, environment: 'dev' }, { appKey, body: { country_code: '+91', mobile } }))).status).toBe(201);
  const [sms] = await inbox(`+91${mobile}`);
  expect(sms!.code).toMatch(/^\d{8}$/);
  expect(sms!.body).toContain('Acme');
});

test('refuses an existing project id or a bad name with a clear message', async () => {
  const projectId = `cli-${randomBytes(4).toString('hex')}`;
  await cli(projectId, '--json');
  await expect(cli(projectId, '--json')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('already exists') });
  await expect(cli('Bad Name!', '--json')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('lower-case') });
});
