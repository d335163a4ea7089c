import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import { handler as signup } from '../../functions/mobile-otp-signup';
import { localStackHome, run } from '../support/cli';
import { call, event, inbox, uniqueIndianMobile } from '../support/harness';

/**
 * `npm run project:create`, kept as an alias of `otpgate projects create`, run as a user would
 * against the local stack (here the run's DynamoDB Local, recorded in OTPGATE_HOME/local.json).
 */

jest.setTimeout(120_000);

const home = localStackHome();
const cli = async (...args: string[]) => {
  const result = await run('npm', ['run', '--silent', 'project:create', '--', ...args], { OTPGATE_HOME: home });
  if (result.code !== 0) throw Object.assign(new Error(result.stderr), result);
  return result;
};

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
