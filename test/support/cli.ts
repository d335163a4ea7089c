import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalStackInfo } from '../../local/stack-file';

/** Runs `otpgate` as a user would: the package's bin, a separate process, its own environment. */

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const { PATH, HOME } = process.env;

export const run = (command: string, args: readonly string[], env: Record<string, string | undefined>): Promise<CliRun> =>
  new Promise((resolve) => {
    execFile(command, args, { env: { PATH, HOME, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });

/** The bin as npm links it: `node cli/otpgate.mjs`, with nothing but the given environment. */
export const otpgateIn = (env: Record<string, string | undefined>) => (...args: string[]) => run(process.execPath, ['cli/otpgate.mjs', ...args], env);

/**
 * An OTPGATE_HOME whose local.json points at the test run's DynamoDB Local and secrets, exactly as
 * `npm start` records its own: the CLI then needs no flags and no AWS variables.
 */
export const localStackHome = (overrides: Partial<LocalStackInfo> = {}): string => {
  const home = mkdtempSync(join(tmpdir(), 'otpgate-cli-home-'));
  const info: LocalStackInfo = {
    dynamoEndpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB!,
    tableName: process.env.TABLE_NAME!,
    region: process.env.AWS_REGION!,
    secretsDir: process.env.OTPGATE_SECRETS_DIR!,
    apiUrl: 'http://localhost:3999',
    ...overrides,
  };
  writeFileSync(join(home, 'local.json'), JSON.stringify(info));
  return home;
};

/** A failure is one line on stderr, never a stack trace. */
export const oneLineError = (result: CliRun): string => {
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('npm warn'));
  if (lines.length !== 1 || /\n\s+at /.test(result.stderr)) throw new Error(`expected one error line, got:\n${result.stderr}`);
  return lines[0]!;
};

/**
 * The same command lines through the CLI's own entry function, without a new Node process: for
 * the many cases where the process boundary adds nothing but seconds. The stack is still found
 * through OTPGATE_HOME/local.json and reached over the network, exactly as by the bin.
 */
export const otpgateInProcess =
  (env: Record<string, string | undefined>) =>
  async (...args: string[]): Promise<CliRun> => {
    const { main } = await import('../../cli/main');
    let stdout = '';
    let stderr = '';
    const code = await main(args, { env, stdout: (text) => (stdout += `${text}\n`), stderr: (text) => (stderr += `${text}\n`) });
    return { code, stdout, stderr };
  };
