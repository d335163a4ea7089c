import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { OtpFunction, otpBundling, repoRoot } from '#lib/otp-function';

/**
 * Builds bundles exactly as the stack does: the esbuild options come from the `otpBundling` the
 * OtpFunction construct hands to NodejsFunction (lib/otp-function.ts), translated the way
 * aws-cdk-lib's bundler turns them into esbuild CLI flags. `checkAgainstCdk` proves the
 * translation by letting the CDK bundle one function and comparing the two files byte for byte.
 */

type BundlingKey = keyof typeof otpBundling;

/** The bundling options this translation knows; a new one in otpBundling fails the bench until it is mapped here. */
const KNOWN: readonly BundlingKey[] = ['format', 'target', 'mainFields', 'minify', 'sourceMap', 'sourcesContent', 'externalModules', 'banner'];

export const esbuildOptions = (): BuildOptions => {
  const unknown = Object.keys(otpBundling).filter((key) => !KNOWN.includes(key as BundlingKey));
  if (unknown.length > 0) throw new Error(`bench/build.ts: map the bundling option(s) ${unknown.join(', ')} to esbuild before benchmarking`);
  return {
    bundle: true,
    platform: 'node',
    target: otpBundling.target,
    format: otpBundling.format,
    minify: otpBundling.minify,
    // NodejsFunction's `sourceMap: true` is esbuild's `--sourcemap` (a linked .map file).
    sourcemap: otpBundling.sourceMap ? 'linked' : false,
    sourcesContent: otpBundling.sourcesContent,
    external: [...otpBundling.externalModules],
    banner: { js: otpBundling.banner },
    mainFields: [...otpBundling.mainFields],
    logLevel: 'silent',
    // The CDK runs esbuild from the project root; module paths inside the bundle are relative to it.
    absWorkingDir: repoRoot,
  };
};

export interface Bundle {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly mapBytes: number;
}

export const bundleFile = async (name: string, entry: string, outDir: string, plugins: Plugin[] = []): Promise<Bundle> => {
  const dir = join(outDir, name);
  rmSync(dir, { recursive: true, force: true });
  const file = join(dir, 'index.mjs');
  await build({ ...esbuildOptions(), entryPoints: [resolve(repoRoot, entry)], outfile: file, plugins });
  const mapFile = `${file}.map`;
  return { name, file, bytes: statSync(file).size, mapBytes: statSync(mapFile, { throwIfNoEntry: false })?.size ?? 0 };
};

/**
 * Redirects every import of one module to another file: how the bench builds the SMS function
 * with each Twilio option in place of functions/core/delivery/twilio-messages.ts.
 */
export const replaceModule = (specifier: string, replacement: string): Plugin => ({
  name: 'bench-replace-module',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^${specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`) }, () => ({ path: resolve(repoRoot, replacement) }));
  },
});

/**
 * Option "plugin": the full SDK, with an esbuild plugin that turns every Twilio product domain
 * except Api (Messages lives there), the TwiML builders and the webhook/JWT helpers into empty
 * modules. The SDK only requires a domain when its getter is first read, so the stubs are never
 * reached at run time; they are still in the import graph the plugin has to know.
 */
export const dropTwilioDomains: Plugin = {
  name: 'drop-twilio-domains',
  setup(b) {
    const keep = /[\\/]rest[\\/](Api|ApiBase)$/;
    b.onResolve({ filter: /^\.\/(rest\/)?[A-Z][A-Za-z]+$/ }, (args) => {
      if (!/[\\/]twilio[\\/]lib[\\/](rest[\\/]Twilio|index)\.js$/.test(args.importer)) return undefined;
      const target = resolve(args.resolveDir, args.path);
      if (keep.test(target) || /[\\/]rest[\\/]Twilio$/.test(target)) return undefined;
      return { path: target, namespace: 'twilio-stub' };
    });
    b.onResolve({ filter: /^\.\/(twiml|jwt|webhooks|credential_provider)\// }, (args) =>
      /[\\/]twilio[\\/]lib[\\/]index\.js$/.test(args.importer) ? { path: resolve(args.resolveDir, args.path), namespace: 'twilio-stub' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'twilio-stub' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
  },
};

/**
 * Lets the CDK bundle `entry` through OtpFunction (a throwaway app, local esbuild) and checks our
 * bundle of it is the same file. Returns the CDK's bundle size.
 */
export const checkAgainstCdk = (entry: string, ours: Bundle): { identical: boolean; cdkBytes: number } => {
  const outdir = mkdtempSync(join(tmpdir(), 'otpgate-bench-cdk-'));
  try {
    const app = new App({ outdir });
    new OtpFunction(new Stack(app, 'BenchFidelity'), 'Fn', { entry });
    app.synth();
    const asset = readdirSync(outdir).find((name) => name.startsWith('asset.') && statSync(join(outdir, name)).isDirectory());
    if (!asset) throw new Error('bench: the CDK produced no asset');
    const cdk = readFileSync(join(outdir, asset, 'index.mjs'));
    return { identical: cdk.equals(readFileSync(ours.file)), cdkBytes: cdk.length };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
};
