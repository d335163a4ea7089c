import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** The repository root: `entry` paths in the route table are relative to it. */
export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export interface OtpFunctionProps
  extends Omit<NodejsFunctionProps, 'entry' | 'runtime' | 'architecture' | 'bundling' | 'logGroup' | 'logRetention' | 'projectRoot' | 'depsLockFilePath'> {
  /** The handler module, relative to the repository root (a route's `entry`). */
  readonly entry: string;
}

const defaults = {
  memorySize: 256,
  timeout: Duration.seconds(10),
} satisfies Partial<NodejsFunctionProps>;

/**
 * Every otpgate function, with all runtime and bundling defaults fixed here so no route can drift.
 * The log group is explicit (not `logRetention`) so the stack needs no log-retention custom resource.
 */
export class OtpFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: OtpFunctionProps) {
    // Created in the parent scope because `this` cannot be used before super().
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    super(scope, id, {
      ...defaults,
      ...props,
      entry: join(repoRoot, props.entry),
      projectRoot: repoRoot,
      depsLockFilePath: join(repoRoot, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      logGroup,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
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
  }
}
