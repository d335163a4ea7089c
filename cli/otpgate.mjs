#!/usr/bin/env node
// `npx otpgate`: the package's bin. The tool runs from the TypeScript sources, like the rest of the
// repository: tsx (a dev dependency) compiles them as they load.
import { fileURLToPath } from 'node:url';

// otpgate supports Node 20; the AWS SDK's notice about its own future Node floor would only add noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let register;
try {
  ({ register } = await import('tsx/esm/api'));
} catch {
  process.stderr.write('otpgate: the command-line tool runs from the sources and needs the dev dependencies: run npm install in the otpgate folder\n');
  process.exit(1);
}
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
