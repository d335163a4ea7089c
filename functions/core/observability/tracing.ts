import type { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * X-Ray tracing through Powertools Tracer: each invocation runs in a `## handler` subsegment
 * annotated with the cold start, the service, the project and the environment; every AWS SDK call
 * (DynamoDB, Secrets Manager, SES) and every outgoing HTTPS request (Twilio) is a subsegment.
 *
 * The tracer is loaded only where tracing is on (the stack sets OTPGATE_TRACING=active beside
 * Lambda's active tracing). Importing it costs: the X-Ray SDK it brings adds about 35 ms of CPU to
 * a function's init on top of its AWS SDK clients, and its async-hooks context (cls-hooked) about
 * a quarter more CPU per AWS SDK call, even with tracing disabled. Tests, the local server and a
 * stack deployed with tracing off never evaluate it; the bundle only carries its code.
 */

export const tracingEnabled = (): boolean => process.env.OTPGATE_TRACING === 'active';

const load = async (): Promise<Tracer | undefined> => {
  if (!tracingEnabled()) return undefined;
  const { Tracer } = await import('@aws-lambda-powertools/tracer');
  return new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'otpgate' });
};

/** Undefined where tracing is off. Top-level await: clients are captured as they are built, at cold start. */
export const tracer: Tracer | undefined = await load();

/** The same client, its calls recorded as X-Ray subsegments where tracing is on. */
export const traced = <Client>(client: Client, using: Tracer | undefined = tracer): Client =>
  using ? using.captureAWSv3Client(client) : client;

/** Adds searchable annotations (project, environment) to the current invocation's subsegment. */
export const annotateTrace = (fields: Record<string, string | number | boolean>, using: Tracer | undefined = tracer): void => {
  if (!using?.isTracingEnabled() || using.getSegment() === undefined) return;
  for (const [key, value] of Object.entries(fields)) using.putAnnotation(key, value);
};

/**
 * Runs one invocation inside a `## <handler>` subsegment of Lambda's segment (as Powertools' own
 * middleware names it); an error is recorded on it by kind only (messages may echo input) and
 * thrown on. Outside a traced Lambda it only calls the handler.
 */
export const withTracing =
  <Event, Context, Result>(handler: (event: Event, context: Context) => Promise<Result>, using: Tracer | undefined = tracer) =>
  async (event: Event, context: Context): Promise<Result> => {
    const parent = using?.isTracingEnabled() ? using.getSegment() : undefined;
    if (!using || parent === undefined) return handler(event, context);
    const subsegment = parent.addNewSubsegment(`## ${process.env._HANDLER ?? 'handler'}`);
    using.setSegment(subsegment);
    try {
      using.annotateColdStart();
      using.addServiceNameAnnotation();
      return await handler(event, context);
    } catch (error) {
      subsegment.addErrorFlag();
      subsegment.addAnnotation('errorType', error instanceof Error ? error.name : typeof error);
      throw error;
    } finally {
      subsegment.close();
      using.setSegment(parent);
    }
  };
