import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { latestCode, newTenant, uniqueIndianMobile } from '../support/harness';

/**
 * X-Ray as a traced Lambda sends it: a real invocation in its own process with the tracer on,
 * the subsegments read off UDP the way the X-Ray daemon receives them.
 */

interface Subsegment {
  name: string;
  id: string;
  trace_id: string;
  parent_id?: string;
  namespace?: string;
  annotations?: Record<string, unknown>;
  aws?: { operation?: string; table_name?: string };
  http?: { request?: { url?: string; method?: string }; response?: { status?: number } };
  error?: boolean;
  fault?: boolean;
}

test('an invocation is a "## handler" subsegment with its tenant; DynamoDB and Twilio calls are subsegments under it; no code or number in any of them', async () => {
  const tenant = await newTenant();
  const mobile = uniqueIndianMobile();
  const daemon = createSocket('udp4');
  const received: Subsegment[] = [];
  daemon.on('message', (packet) => {
    // "<header JSON>\n<segment JSON>", one document per packet.
    const [, body] = packet.toString('utf8').split('\n');
    if (body) received.push(JSON.parse(body) as Subsegment);
  });
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
  const traceId = `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
  const parent = randomBytes(8).toString('hex');
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'test/support/tracing-probe.ts', tenant.projectId, tenant.environment, tenant.appKey, mobile],
      {
        env: {
          ...process.env,
          LOG_LEVEL: 'silent',
          OTPGATE_TRACING: 'active',
          AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
          AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
          LAMBDA_TASK_ROOT: process.cwd(),
          _HANDLER: 'index.handler',
          _X_AMZN_TRACE_ID: `Root=${traceId};Parent=${parent};Sampled=1`,
          AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
          AWS_XRAY_LOG_LEVEL: 'silent',
        },
        timeout: 60_000,
      },
    );
    expect(stdout).toContain('STATUS 201');
    // Datagrams from a process that has exited are already in the socket's queue; let them be read.
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    daemon.close();
  }

  const handler = received.find((s) => s.name === '## index.handler');
  expect(handler).toBeDefined();
  expect(handler).toMatchObject({ trace_id: traceId, parent_id: parent });
  expect(handler!.annotations).toMatchObject({ ColdStart: true, Service: 'otpgate', projectId: tenant.projectId, environment: tenant.environment });

  const children = received.filter((s) => s.parent_id === handler!.id);
  const dynamo = children.filter((s) => s.name === 'DynamoDB');
  expect(dynamo.length).toBeGreaterThan(0);
  expect(dynamo.every((s) => s.namespace === 'aws')).toBe(true);
  // Single-item calls name the table (a transaction names none).
  expect(dynamo.filter((s) => s.aws?.operation === 'GetItem').every((s) => s.aws?.table_name === process.env.TABLE_NAME)).toBe(true);
  expect(dynamo.map((s) => s.aws?.operation)).toEqual(expect.arrayContaining(['GetItem', 'UpdateItem']));
  const twilio = children.find((s) => s.http?.request?.url?.includes('/Messages.json'));
  expect(twilio).toMatchObject({ namespace: 'remote', http: { request: { method: 'POST' }, response: { status: 201 } } });

  const code = await latestCode(`+91${mobile}`);
  const all = JSON.stringify(received);
  for (const secret of [code, mobile, tenant.appKey]) expect(all).not.toContain(secret);
});
