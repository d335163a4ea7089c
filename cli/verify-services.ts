import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createRepository } from '#core/store/repository';
import { createVerifyService, listVerifyServices } from '#core/tenancy/verify-services';

/**
 * npm run verify-services -- create <project-id> [--env development] [--name "Acme app"] [--stack OtpGate | --table <table>] [--json]
 * npm run verify-services -- list   <project-id> [--env development] [--stack OtpGate | --table <table>] [--json]
 * A stopgap until `npx otpgate verify-services` exists: creates and lists the Twilio Verify
 * services (ServiceSid and account id) of a project environment in the deployed table.
 */

const usage = `Usage: npm run verify-services -- create <project-id> [--env <name>] [--name <friendly name>]
                                      [--stack <stack name, default OtpGate> | --table <table name>] [--json]
       npm run verify-services -- list <project-id> [--env <name>] [--stack … | --table …] [--json]
The environment defaults to development. A Twilio client authenticates with the account id as its
username and an APP-KEY of the same environment as its password.`;

const tableFromStack = async (stackName: string): Promise<string> => {
  const { Stacks } = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: stackName }));
  const table = Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'TableName')?.OutputValue;
  if (!table) throw new Error(`stack ${stackName} has no TableName output; deploy it first or pass --table`);
  return table;
};

const main = async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      env: { type: 'string', default: 'development' },
      name: { type: 'string' },
      stack: { type: 'string', default: 'OtpGate' },
      table: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, projectId] = positionals;
  if (values.help || (command !== 'create' && command !== 'list') || projectId === undefined || positionals.length > 2) {
    console.log(usage);
    process.exit(values.help ? 0 : 2);
  }
  const tableName = values.table ?? process.env.OTPGATE_TABLE_NAME ?? (await tableFromStack(values.stack));
  const repo = createRepository(DynamoDBDocumentClient.from(new DynamoDBClient({})), tableName);
  const tenant = { projectId, environment: values.env };
  const services =
    command === 'create'
      ? [await createVerifyService(repo, tenant, values.name === undefined ? {} : { friendlyName: values.name })]
      : await listVerifyServices(repo, tenant);
  if (values.json) {
    console.log(JSON.stringify(command === 'create' ? services[0] : services));
    return;
  }
  if (services.length === 0) console.log(`No Verify services in ${projectId}/${values.env}.`);
  for (const s of services) console.log(`${s.serviceSid}  account ${s.accountSid}  ${s.projectId}/${s.environment}  "${s.friendlyName}"  ${s.createdAt}`);
};

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`verify-services failed: ${message.replace(/^otpgate: /, '')}`);
  process.exit(1);
});
