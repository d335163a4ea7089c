import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  InvalidRequestException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RestoreSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { runtime } from '#core/runtime';
import { createProject } from '#core/tenancy/projects';
import { main } from '../../cli/main';
import { secretsManagerProjectSecrets } from '../../cli/project-secrets';
import { fromStackOutputs, type Target } from '../../cli/target';

/**
 * `otpgate twilio ... --stack`: a project's own Twilio account goes to Secrets Manager under the
 * stack's prefix, named as the functions read it. Secrets Manager is mocked (no AWS here); the
 * projects are real, in DynamoDB Local.
 */

const sm = mockClient(SecretsManagerClient);
afterEach(() => sm.reset());
afterAll(() => sm.restore());

const prefix = 'otpgate/OtpGate/';
const stackTarget: Target = {
  description: 'stack OtpGate in eu-west-1 (table test)',
  repo: runtime().repo,
  identities: runtime().identities,
  secrets: secretsManagerProjectSecrets(new SecretsManagerClient({ region: 'eu-west-1' }), prefix),
  close: () => undefined,
};

const otpgate = async (env: Record<string, string>, ...args: string[]) => {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { env, connect: async () => stackTarget, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
};

const accountSid = `AC${randomBytes(16).toString('hex')}`;
const authToken = randomBytes(16).toString('hex');
const newProject = async () => {
  const projectId = `sm-${randomBytes(4).toString('hex')}`;
  await createProject(runtime().repo, { projectId, environments: ['production'] });
  return projectId;
};
const setArgs = (projectId: string) => ['twilio', 'set', projectId, '--account-sid', accountSid, '--from', '+15551234567', '--json'];
const exists = () => new ResourceExistsException({ message: 'exists', $metadata: {} });

test('twilio set creates the secret otpgate/<stack>/projects/<id>/twilio with the credentials', async () => {
  const projectId = await newProject();
  sm.on(CreateSecretCommand).resolves({});
  const result = await otpgate({ TWILIO_AUTH_TOKEN: authToken }, ...setArgs(projectId));
  expect(result.code).toBe(0);
  const [create] = sm.commandCalls(CreateSecretCommand);
  expect(create!.args[0].input).toMatchObject({ Name: `${prefix}projects/${projectId}/twilio`, Tags: [{ Key: 'otpgate:project', Value: projectId }] });
  expect(JSON.parse(create!.args[0].input.SecretString!)).toEqual({ accountSid, authToken, from: '+15551234567' });
  expect(JSON.parse(result.stdout)).toEqual({ projectId, accountSid, from: '+15551234567', secret: `${prefix}projects/${projectId}/twilio` });
  expect(result.stdout).not.toContain(authToken);
});

test('twilio set again replaces the value of the existing secret', async () => {
  const projectId = await newProject();
  sm.on(CreateSecretCommand).rejects(exists()).on(PutSecretValueCommand).resolves({});
  expect((await otpgate({ TWILIO_AUTH_TOKEN: authToken }, ...setArgs(projectId))).code).toBe(0);
  const [put] = sm.commandCalls(PutSecretValueCommand);
  expect(put!.args[0].input).toMatchObject({ SecretId: `${prefix}projects/${projectId}/twilio` });
  expect(JSON.parse(put!.args[0].input.SecretString!).authToken).toBe(authToken);
});

test('a secret pending deletion (deleted in the console) is restored, then replaced', async () => {
  const projectId = await newProject();
  sm.on(CreateSecretCommand)
    .rejects(new InvalidRequestException({ message: "You can't create this secret because a secret with this name is already scheduled for deletion.", $metadata: {} }))
    .on(RestoreSecretCommand).resolves({})
    .on(PutSecretValueCommand).resolves({});
  expect((await otpgate({ TWILIO_AUTH_TOKEN: authToken }, ...setArgs(projectId))).code).toBe(0);
  expect(sm.commandCalls(RestoreSecretCommand)).toHaveLength(1);
  expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(1);
});

test('twilio show never prints the token; clear deletes without a recovery window', async () => {
  const projectId = await newProject();
  sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ accountSid, authToken, from: '+15551234567' }) });
  const shown = await otpgate({}, 'twilio', 'show', projectId);
  expect(shown.stdout).toContain(accountSid);
  expect(shown.stdout).not.toContain(authToken);

  sm.on(DeleteSecretCommand).resolves({});
  expect((await otpgate({}, 'twilio', 'clear', projectId)).stdout).toContain("uses the stack's Twilio account again");
  expect(sm.commandCalls(DeleteSecretCommand)[0]!.args[0].input).toEqual({ SecretId: `${prefix}projects/${projectId}/twilio`, ForceDeleteWithoutRecovery: true });

  sm.reset();
  sm.on(DeleteSecretCommand).rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));
  sm.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));
  expect((await otpgate({}, 'twilio', 'clear', projectId)).stdout).toContain('had no Twilio account of its own');
  expect(JSON.parse((await otpgate({}, 'twilio', 'show', projectId, '--json')).stdout)).toEqual({ projectId, configured: false });
});

test('nothing is written to Secrets Manager for a project that does not exist, or without a token', async () => {
  const missing = await otpgate({ TWILIO_AUTH_TOKEN: authToken }, ...setArgs('no-such-project'));
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('there is no project no-such-project');
  const noToken = await otpgate({}, ...setArgs(await newProject()));
  expect(noToken.code).toBe(2);
  expect(noToken.stderr).toContain('--auth-token (or TWILIO_AUTH_TOKEN) is required');
  expect(sm.calls()).toHaveLength(0);
});

describe('stack outputs', () => {
  test('the table, API URL and secret prefix come from the outputs; an older stack gets the prefix it would have', () => {
    expect(
      fromStackOutputs('Prod', [
        { OutputKey: 'TableName', OutputValue: 'Prod-Table1' },
        { OutputKey: 'ApiUrl', OutputValue: 'https://abc.execute-api.eu-west-1.amazonaws.com/' },
        { OutputKey: 'ProjectSecretPrefix', OutputValue: 'otpgate/Prod/' },
      ]),
    ).toEqual({ tableName: 'Prod-Table1', apiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com', secretPrefix: 'otpgate/Prod/' });
    expect(fromStackOutputs('Old', [{ OutputKey: 'TableName', OutputValue: 't' }]).secretPrefix).toBe('otpgate/Old/');
  });

  test('a stack without a TableName output is not taken for otpgate', () => {
    expect(() => fromStackOutputs('Other', [{ OutputKey: 'BucketName', OutputValue: 'b' }])).toThrow('stack Other has no TableName output');
  });
});
