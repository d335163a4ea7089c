import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type BundlingOptions, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { routes, type Capability } from './routes';

/** The repository root: `entry` paths in the route table are relative to it. */
export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export interface OtpFunctionProps
  extends Omit<NodejsFunctionProps, 'entry' | 'runtime' | 'architecture' | 'bundling' | 'logGroup' | 'logRetention' | 'projectRoot' | 'depsLockFilePath'> {
  /** The handler module, relative to the repository root (a route's `entry`). */
  readonly entry: string;
}

/**
 * How every function is bundled and started. Exported so `npm run bench` (bench/build.ts) builds
 * byte-for-byte the bundles the stack deploys and starts them the same way.
 */
export const otpBundling = {
  format: OutputFormat.ESM,
  target: 'node22',
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

export const otpRuntime = Runtime.NODEJS_22_X;

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
 * - 256 MB everywhere: a warm request spends most of its time waiting on DynamoDB (and Twilio or
 *   SES), and a GB-second of waiting costs the same at any speed, so more memory mostly buys a
 *   faster cold start; 256 MB keeps the modelled cold start under half a second for every
 *   function, and 512 MB would double the duration cost of every send while it waits on Twilio.
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
      runtime: otpRuntime,
      architecture: Architecture.ARM_64,
      logGroup,
      environment: { ...otpEnvironment, ...props.environment },
      bundling: otpBundling,
    });
  }
}
