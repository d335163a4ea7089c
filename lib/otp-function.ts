import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** The repository root: `entry` paths in the route table are relative to it. */
export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export interface OtpFunctionProps
  extends Omit<NodejsFunctionProps, 'entry' | 'runtime' | 'architecture' | 'bundling' | 'logGroup' | 'logRetention' | 'projectRoot' | 'depsLockFilePath' | 'role' | 'tracing'> {
  /** The handler module, relative to the repository root (a route's `entry`). */
  readonly entry: string;
  /** X-Ray active tracing and the Powertools tracer in the code. @default true */
  readonly tracing?: boolean;
}

const defaults = {
  memorySize: 256,
  timeout: Duration.seconds(10),
} satisfies Partial<NodejsFunctionProps>;

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
      // The newest Node.js Lambda offers; the code itself also runs on Node 20 (tests) and 22.
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      logGroup,
      role,
      // X-Ray: the function's segment from Lambda, and the AWS SDK and provider calls as subsegments (functions/core/observability/tracing.ts).
      tracing: tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        // The `service` of every log line and metric: the stack, so two stacks in one account keep apart.
        POWERTOOLS_SERVICE_NAME: Stack.of(scope).stackName,
        ...(tracing ? { OTPGATE_TRACING: 'active' } : {}),
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Bundle the AWS SDK too: a pinned, tree-shaken SDK beats the runtime's moving one.
        externalModules: [],
        // twilio is CommonJS and calls require(), which an ESM bundle does not define.
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
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
