// Jest transform: esbuild strips the TypeScript types (the same compiler tsx and the CDK bundler use).
// Test files run as ESM under --experimental-vm-modules; where jest loads a file with require()
// (globalSetup/globalTeardown) it asks for CommonJS, and gets it. Type checking is `npm run typecheck`.
const { createHash } = require('node:crypto');
const { transformSync, version } = require('esbuild');

module.exports = {
  getCacheKey(sourceText, sourcePath, options) {
    const format = options && options.supportsStaticESM ? 'esm' : 'cjs';
    return createHash('sha256').update([version, format, sourcePath, sourceText].join('\0')).digest('hex');
  },
  process(sourceText, sourcePath, options) {
    const { code, map } = transformSync(sourceText, {
      loader: 'ts',
      format: options && options.supportsStaticESM ? 'esm' : 'cjs',
      target: 'node20',
      sourcemap: 'external',
      sourcefile: sourcePath,
    });
    return { code, map };
  },
};
