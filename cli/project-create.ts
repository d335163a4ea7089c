import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { createProject } from '#core/tenancy/projects';
import { createRepository, ProjectExistsError } from '#core/store/repository';
import { settingsSchema } from '#core/tenancy/settings';

/**
 * npm run project:create -- <project-id> [--env development] [--env production] [--name "Acme"]
 *                                        [--settings '{"codeLength":8}'] [--stack OtpGate | --table <table>] [--json]
 * Writes a project, its environments and one APP-KEY each to the deployed table, and prints the
 * keys once: only their hashes are stored.
 */

const usage = `Usage: npm run project:create -- <project-id> [--env <name>]... [--name <display name>]
       [--settings <JSON>] [--stack <stack name, default OtpGate> | --table <table name>] [--json]
Environments default to development and production. Settings (all optional): appName, codeLength,
otpTtlSeconds, maxAttempts, tokenTtlSeconds, defaultCountryCode, allowedCountries.`;

const parseSettings = (text: string | undefined): Record<string, unknown> => {
  if (text === undefined) return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('--settings must be a JSON object');
  }
  const result = v.safeParse(v.strictObject(settingsSchema.entries), json);
  if (!result.success) {
    const issue = result.issues[0];
    throw new Error(`--settings: ${issue.path?.map((p) => String(p.key)).join('.') ?? 'value'}: ${issue.message}`);
  }
  return Object.fromEntries(Object.entries(result.output).filter(([, value]) => value !== undefined));
};

const tableFromStack = async (stackName: string): Promise<string> => {
  const client = new CloudFormationClient({});
  const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
  const table = Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'TableName')?.OutputValue;
  if (!table) throw new Error(`stack ${stackName} has no TableName output; deploy it first or pass --table`);
  return table;
};

const main = async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      env: { type: 'string', multiple: true },
      name: { type: 'string' },
      settings: { type: 'string' },
      stack: { type: 'string', default: 'OtpGate' },
      table: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const projectId = positionals[0];
  if (values.help || projectId === undefined || positionals.length > 1) {
    console.log(usage);
    process.exit(values.help ? 0 : 2);
  }
  const settings = parseSettings(values.settings);
  const tableName = values.table ?? process.env.OTPGATE_TABLE_NAME ?? (await tableFromStack(values.stack));
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const created = await createProject(createRepository(doc, tableName), {
    projectId,
    environments: values.env ?? ['development', 'production'],
    settings,
    ...(values.name === undefined ? {} : { name: values.name }),
  });

  if (values.json) {
    console.log(JSON.stringify(created));
    return;
  }
  console.log(`Created project ${created.projectId} in table ${tableName}.\n`);
  for (const key of created.keys) {
    console.log(`  ${key.environment.padEnd(14)} APP-KEY ${key.appKey}`);
  }
  console.log('\nStore these keys now: otpgate keeps only their hashes and cannot show them again.');
};

main().catch((error: unknown) => {
  const message = error instanceof ProjectExistsError ? `project ${error.projectId} already exists` : error instanceof Error ? error.message : String(error);
  console.error(`project:create failed: ${message.replace(/^otpgate: /, '')}`);
  process.exit(1);
});
