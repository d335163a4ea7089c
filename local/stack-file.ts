import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * `.otp-local/local.json`: where the running local stack can be reached. `npm start` writes it once
 * its services are up and removes it when it stops; `npx otpgate` reads it, so the command-line
 * tool needs no flags against the local stack (DynamoDB Local's port is random on every start).
 */
export interface LocalStackInfo {
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly region: string;
  /** The local secrets directory: projects' own secrets go to projects/<id>/ in it. */
  readonly secretsDir: string;
  /** The local API's origin, e.g. http://localhost:3000. */
  readonly apiUrl?: string;
}

export const LOCAL_STACK_FILE = 'local.json';

/** The local stack's data folder: OTPGATE_HOME, else .otp-local in `base` (npm start runs in the package root). */
export const otpgateHome = (base: string, env: Readonly<Record<string, string | undefined>> = process.env): string =>
  resolve(env.OTPGATE_HOME ?? join(base, '.otp-local'));

export const writeLocalStackFile = (home: string, info: LocalStackInfo): void =>
  writeFileSync(join(home, LOCAL_STACK_FILE), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });

export const removeLocalStackFile = (home: string): void => rmSync(join(home, LOCAL_STACK_FILE), { force: true });

/** The recorded stack, or undefined when no local stack has recorded itself in `file`. */
export const readLocalStackFile = (file: string): LocalStackInfo | undefined => {
  if (!existsSync(file)) return undefined;
  const info = JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalStackInfo>;
  if (!info.dynamoEndpoint || !info.tableName || !info.secretsDir) throw new Error(`${file} does not say where the local stack is; restart npm start`);
  return { region: 'us-east-1', ...info } as LocalStackInfo;
};
