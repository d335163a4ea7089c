import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type BundlingOptions, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { routes, type Capability } from './routes';

/** The repository root: `entry` paths in the route table are relative to it. */
export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export interface OtpFunctionProps
  extends Omit<NodejsFunctionProps, 'entry' | 'runtime' | 'architecture' | 'bundling' | 'logGroup' | 'logRetention' | 'projectRoot' | 'depsLockFilePath' | 'role' | 'tracing'> {
  /** The handler module, relative to the repository root (a route's `entry`). */
  readonly entry: string;
  /** X-Ray active tracing and the Powertools tracer in the code. @default true */
  readonly tracing?: boolean;
}

/**
 * How every function is bundled and started. Exported so `npm run bench` (bench/build.ts) builds
 * byte-for-byte the bundles the stack deploys and starts them the same way.
 */
export const otpBundling = {
  format: OutputFormat.ESM,
  target: 'node24',
  mainFields: ['module', 'main'],
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  // Bundle the AWS SDK too: a pinned, tree-shaken SDK beats the runtime's moving one.
  externalModules: [],
  // For CommonJS dependencies that call require(), which an ESM bundle does not define. None does
  // since the twilio SDK left the bundles; kept so that adding one cannot break a function at run time.
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
} satisfies BundlingOptions;

// The newest Node.js Lambda offers; the code itself also runs on Node 20 (tests) and 22.
export const otpRuntime = Runtime.NODEJS_24_X;

/**
 * No NODE_OPTIONS=--enable-source-maps: Node then parses every bundle's source map at cold start,
 * which BENCHMARKS.md measures at about a sixth of the init time, for stack traces otpgate never
 * logs (errors are logged by kind and code, never with a stack). The maps still ship beside each
 * bundle: set NODE_OPTIONS=--enable-source-maps on a function to get mapped traces while debugging.
 */
export const otpEnvironment: Readonly<Record<string, string>> = {};

const defaults = {
  memorySize: 256,
  timeout: Duration.seconds(10),
} satisfies Partial<NodejsFunctionProps>;

/**
 * Memory and timeout by what a route does, chosen from BENCHMARKS.md ("Memory and timeouts"):
 * - 256 MB everywhere: a warm request spends much of its time waiting on DynamoDB (and Twilio or
 *   SES), and a millisecond of waiting costs in proportion to memory, so more memory mostly buys a
 *   faster cold start (CPU scales with memory). Modelled there: 512 MB halves the CPU-bound part of
 *   a cold start but raises the duration cost of a send by 6-26% even against the local stand-ins'
 *   millisecond answers, and doubles the cost of each of the few hundred ms a send waits on Twilio
 *   in production, while cold starts are about 1% of requests; 128 MB doubles every cold start to
 *   save a few cents per million requests.
 * - 10 s for the functions that deliver a code: Twilio and SES get 5 s, and a failed delivery
 *   still has to be undone and answered. 5 s for the rest, which only talk to DynamoDB (tens of
 *   ms, a few seconds with every SDK retry): a stalled dependency costs half as much.
 */
export const sizingFor = (needs: readonly Capability[]): { memorySize: number; timeout: Duration } => ({
  memorySize: 256,
  timeout: Duration.seconds(needs.some((n) => n.startsWith('send:')) ? 10 : 5),
});

/** Memory and timeout of a function by its construct id (a route's id), as the stack deploys it: for the bench's figures. */
export const otpFunctionSettings = (id: string): { memoryMb: number; timeoutSeconds: number } => {
  const route = routes.find((r) => r.id === id);
  const sizing = route ? sizingFor(route.needs) : defaults;
  return { memoryMb: sizing.memorySize, timeoutSeconds: sizing.timeout.toSeconds() };
};

/**
 * Every otpgate function, with all runtime and bundling defaults fixed here so no route can drift.
 * The log group is explicit (not `logRetention`) so the stack needs no log-retention custom resource.
 * The role is explicit too: the construct's default attaches the AWS managed
 * AWSLambdaBasicExecutionRole, which may write to every log group in the account; this one may
 * write to the function's own log group only (X-Ray's two actions are added by active tracing).
 */
export class OtpFunction extends NodejsFunction {
  /** The function's own log group (30 days). */
  readonly logs: LogGroup;

  constructor(scope: Construct, id: string, props: OtpFunctionProps) {
    const { tracing = true, ...rest } = props;
    // Created in the parent scope because `this` cannot be used before super().
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    // The log group exists before the function, so CreateLogGroup is never needed.
    logGroup.grantWrite(role);

    super(scope, id, {
      ...defaults,
      ...rest,
      entry: join(repoRoot, props.entry),
      projectRoot: repoRoot,
      depsLockFilePath: join(repoRoot, 'package-lock.json'),
      runtime: otpRuntime,
      architecture: Architecture.ARM_64,
      logGroup,
      role,
      // X-Ray: the function's segment from Lambda, and the AWS SDK and provider calls as subsegments (functions/core/observability/tracing.ts).
      tracing: tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      environment: {
        ...otpEnvironment,
        // The `service` of every log line and metric: the stack, so two stacks in one account keep apart.
        POWERTOOLS_SERVICE_NAME: Stack.of(scope).stackName,
        ...(tracing ? { OTPGATE_TRACING: 'active' } : {}),
        ...props.environment,
      },
      bundling: otpBundling,
    });
    this.logs = logGroup;
    if (tracing) {
      Validations.of(role).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason: 'Active tracing grants xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions (X-Ray takes only "*"); every other statement of this role names its resources.',
      });
    }
  }
}
