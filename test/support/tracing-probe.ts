/**
 * Runs one mobile-otp-signup invocation as Lambda would with active tracing: the X-Ray SDK in its
 * Lambda mode (LAMBDA_TASK_ROOT, a trace header in _X_AMZN_TRACE_ID) streams every closed
 * subsegment to AWS_XRAY_DAEMON_ADDRESS, where the test listens. Run in its own process by
 * test/integration/tracing.test.ts, since the tracer patches Node's http and https modules.
 * Arguments: projectId environment appKey mobile. Prints the response status.
 */
import type { Context } from 'aws-lambda';
import { handler } from '../../functions/mobile-otp-signup';
import { event } from './harness';

const [projectId, environment, appKey, mobile] = process.argv.slice(2) as [string, string, string, string];
const context = { functionName: 'probe', awsRequestId: 'probe', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;
const result = await handler(event({ projectId, environment }, { body: { country_code: '+91', mobile }, appKey }), context);
process.stdout.write(`STATUS ${String(result.statusCode)}\n`);
