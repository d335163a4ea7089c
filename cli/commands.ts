import * as v from 'valibot';
import { KEY_CACHE_TTL_MS } from '#core/tenancy/key-cache';
import {
  addEnvironment,
  changeSettings,
  createAppKey,
  createProject,
  listAppKeys,
  MAX_GRACE_SECONDS,
  revokeAppKey,
  rotateAppKey,
  type IssuedKey,
} from '#core/tenancy/projects';
import { settingDefaults } from '#core/tenancy/settings';
import { isTextSetting, settingNames } from '#core/tenancy/settings-input';
import { ProjectNotFoundError, type AppKeyListing } from '#core/store/repository';
import { emailIdentity, normaliseEmail, phoneIdentity } from '#core/otp/identity';
import { RotationTooSoonError } from '#core/tokens/signing-keys';
import { createVerifyService, EnvironmentNotFoundError, listVerifyServices, MAX_FRIENDLY_NAME } from '#core/tenancy/verify-services';
import type { VerifyServiceRecord } from '#core/store/repository';
import { CliError, UsageError } from './errors';
import { columns, parseDuration, shortTime, showValue } from './format';
import type { Target } from './target';

/**
 * Every `otpgate <group> <command>`: its arguments, its help, and what it does. A command returns
 * both a text for people and a JSON value for scripts (--json); main.ts prints one of them.
 */

export type OptionSpec = { readonly type: 'string' | 'boolean'; readonly multiple?: boolean; readonly short?: string };

export interface Input {
  readonly args: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly target: () => Promise<Target>;
  readonly now: () => Date;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface Result {
  readonly text: string;
  readonly json: unknown;
}

export interface Command {
  readonly group: string;
  readonly name: string;
  /** Positional arguments as shown in help, e.g. "<project> [<env>]". */
  readonly args: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  readonly summary: string;
  readonly help: string;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  readonly optionHelp?: readonly (readonly [string, string])[];
  readonly run: (input: Input) => Promise<Result>;
}

const str = (input: Input, name: string): string | undefined => {
  const value = input.values[name];
  return typeof value === 'string' ? value : undefined;
};

const arg = (input: Input, index: number): string => input.args[index]!;

const baseUrl = (target: Target, projectId: string, environment: string) =>
  target.apiUrl === undefined ? undefined : `${target.apiUrl}/auth/${projectId}/${environment}`;

const KEEP_KEYS = 'Store these keys now: otpgate keeps only their hashes and cannot show them again.';
const KEEP_KEY = 'Store this key now: otpgate keeps only its hash and cannot show it again.';
const CACHE_SECONDS = KEY_CACHE_TTL_MS / 1000;

const keyLines = (target: Target, projectId: string, keys: readonly IssuedKey[]): string =>
  keys
    .map((key) => {
      const url = baseUrl(target, projectId, key.environment);
      return [`  ${key.environment.padEnd(14)} APP-KEY ${key.appKey}   (key id ${key.keyId})`, ...(url ? [`  ${''.padEnd(14)} Base URL ${url}`] : [])].join('\n');
    })
    .join('\n');

const keyJson = (target: Target, projectId: string, key: IssuedKey) => {
  const url = baseUrl(target, projectId, key.environment);
  return { environment: key.environment, appKey: key.appKey, keyId: key.keyId, ...(url ? { baseUrl: url } : {}) };
};

const parseJsonObject = (text: string, flag: string): Record<string, unknown> => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`${flag} must be a JSON object, e.g. '{"codeLength":8}'`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new CliError(`${flag} must be a JSON object, e.g. '{"codeLength":8}'`);
  return json as Record<string, unknown>;
};

const requireProject = async (target: Target, projectId: string) => {
  const project = await target.repo.findProject(projectId);
  if (!project) throw new ProjectNotFoundError(projectId);
  return project;
};

const keyListingJson = (key: AppKeyListing) => ({
  keyId: key.keyId,
  environment: key.environment,
  createdAt: key.createdAt,
  ...(key.expiresAt === undefined ? {} : { expiresAt: new Date(key.expiresAt).toISOString() }),
});

// ---------------------------------------------------------------------------------------------
// projects

const projectsCreate: Command = {
  group: 'projects',
  name: 'create',
  args: '<project>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'create a project with its environments and one APP-KEY each',
  help: `Creates the project, its environments and one APP-KEY per environment, and prints the keys
once (only their hashes are stored). Project ids and environment names are lower-case letters,
digits and dashes, up to 63 characters.

Example:
  npx otpgate projects create acme --env development --env production --name "Acme Inc" \\
    --settings '{"codeLength":8,"appName":"Acme"}'`,
  options: { env: { type: 'string', multiple: true }, name: { type: 'string' }, settings: { type: 'string' } },
  optionHelp: [
    ['--env <name>', 'an environment; repeat for more (default: development and production)'],
    ['--name <text>', 'display name (default: the project id)'],
    ['--settings <JSON>', 'initial settings, e.g. \'{"codeLength":8}\' (see otpgate settings set --help)'],
  ],
  async run(input) {
    const projectId = arg(input, 0);
    const settings = str(input, 'settings') === undefined ? {} : parseJsonObject(str(input, 'settings')!, '--settings');
    const target = await input.target();
    const name = str(input, 'name');
    const created = await createProject(
      target.repo,
      { projectId, environments: (input.values.env as string[] | undefined) ?? ['development', 'production'], settings, ...(name === undefined ? {} : { name }) },
      input.now(),
    );
    return {
      json: { projectId, name: name ?? projectId, keys: created.keys.map((key) => keyJson(target, projectId, key)) },
      text: `Created project ${projectId} on ${target.description}.\n\n${keyLines(target, projectId, created.keys)}\n\n${KEEP_KEYS}`,
    };
  },
};

const projectsList: Command = {
  group: 'projects',
  name: 'list',
  args: '',
  minArgs: 0,
  maxArgs: 0,
  summary: 'list projects and their environments',
  help: 'Lists every project with its display name, environments and creation time.',
  async run(input) {
    const target = await input.target();
    const projects = await target.repo.listProjects();
    const listed = await Promise.all(
      projects.map(async (project) => ({ ...project, environments: (await target.repo.listEnvironments(project.projectId)).map((e) => e.environment) })),
    );
    const json = listed.map((p) => ({ projectId: p.projectId, name: p.name, environments: p.environments, createdAt: p.createdAt }));
    if (listed.length === 0) return { json, text: `No projects on ${target.description} yet; create one with: npx otpgate projects create <project>` };
    return {
      json,
      text: `Projects on ${target.description}:\n\n${columns([
        ['PROJECT', 'NAME', 'ENVIRONMENTS', 'CREATED'],
        ...listed.map((p) => [p.projectId, p.name, p.environments.join(', '), shortTime(p.createdAt)]),
      ])}`,
    };
  },
};

// ---------------------------------------------------------------------------------------------
// envs

const envsAdd: Command = {
  group: 'envs',
  name: 'add',
  args: '<project> <env>',
  minArgs: 2,
  maxArgs: 2,
  summary: 'add an environment to a project, with its first APP-KEY',
  help: `Adds an environment (e.g. staging) to an existing project and prints its first APP-KEY once.
Each environment has its own users, codes, keys and token signing key.`,
  async run(input) {
    const [projectId, environment] = [arg(input, 0), arg(input, 1)];
    const target = await input.target();
    const issued = await addEnvironment(target.repo, { projectId, environment }, input.now());
    return {
      json: { projectId, ...keyJson(target, projectId, issued) },
      text: `Added environment ${environment} to ${projectId} on ${target.description}.\n\n${keyLines(target, projectId, [issued])}\n\n${KEEP_KEY}`,
    };
  },
};

const envsList: Command = {
  group: 'envs',
  name: 'list',
  args: '<project>',
  minArgs: 1,
  maxArgs: 1,
  summary: "list a project's environments and how many keys each has",
  help: "Lists a project's environments, each with its number of live APP-KEYs and its base URL.",
  async run(input) {
    const projectId = arg(input, 0);
    const target = await input.target();
    await requireProject(target, projectId);
    const [environments, keys] = await Promise.all([target.repo.listEnvironments(projectId), target.repo.listAppKeys(projectId)]);
    const now = input.now().getTime();
    const json = environments.map((e) => ({
      environment: e.environment,
      keys: keys.filter((k) => k.environment === e.environment && (k.expiresAt === undefined || k.expiresAt > now)).length,
      createdAt: e.createdAt,
      ...(baseUrl(target, projectId, e.environment) ? { baseUrl: baseUrl(target, projectId, e.environment) } : {}),
    }));
    return {
      json,
      text: `Environments of ${projectId}:\n\n${columns([
        ['ENVIRONMENT', 'KEYS', 'CREATED', ...(target.apiUrl ? ['BASE URL'] : [])],
        ...json.map((e) => [e.environment, String(e.keys), shortTime(e.createdAt), ...(e.baseUrl ? [e.baseUrl] : [])]),
      ])}`,
    };
  },
};

// ---------------------------------------------------------------------------------------------
// keys

const keysCreate: Command = {
  group: 'keys',
  name: 'create',
  args: '<project> <env>',
  minArgs: 2,
  maxArgs: 2,
  summary: 'issue another APP-KEY for an environment',
  help: `Issues a further APP-KEY for an existing environment and prints it once. The environment's
other keys keep working; revoke them with otpgate keys revoke.`,
  async run(input) {
    const [projectId, environment] = [arg(input, 0), arg(input, 1)];
    const target = await input.target();
    const issued = await createAppKey(target.repo, { projectId, environment }, input.now());
    return {
      json: { projectId, ...keyJson(target, projectId, issued) },
      text: `Created a key for ${projectId}/${environment} on ${target.description}.\n\n${keyLines(target, projectId, [issued])}\n\n${KEEP_KEY}`,
    };
  },
};

const keysList: Command = {
  group: 'keys',
  name: 'list',
  args: '<project> [<env>]',
  minArgs: 1,
  maxArgs: 2,
  summary: "list a project's APP-KEYs by id (never the keys themselves)",
  help: `Lists the keys of a project (or of one environment) by their short id, with their environment
and creation time. The keys themselves are not stored and cannot be shown.`,
  async run(input) {
    const [projectId, environment] = [arg(input, 0), input.args[1]];
    const target = await input.target();
    const keys = await listAppKeys(target.repo, projectId, environment);
    const now = input.now().getTime();
    const state = (key: AppKeyListing) =>
      key.expiresAt === undefined ? 'active' : key.expiresAt > now ? `until ${shortTime(key.expiresAt)}` : 'expired';
    const scope = environment === undefined ? projectId : `${projectId}/${environment}`;
    return {
      json: keys.map(keyListingJson),
      text:
        keys.length === 0
          ? `${scope} has no keys; create one with: npx otpgate keys create ${projectId} <env>`
          : `Keys of ${scope}:\n\n${columns([['KEY ID', 'ENVIRONMENT', 'CREATED', 'STATE'], ...keys.map((k) => [k.keyId, k.environment, shortTime(k.createdAt), state(k)])])}`,
    };
  },
};

const keysRotate: Command = {
  group: 'keys',
  name: 'rotate',
  args: '<project> <env>',
  minArgs: 2,
  maxArgs: 2,
  summary: 'issue a new APP-KEY and revoke the old one (optionally after a grace period)',
  help: `Issues a new key for the environment and revokes the old one in the same step. Without
--grace the old key stops working at once (within ${CACHE_SECONDS} seconds in warm functions);
with --grace it keeps working for that long, so apps can move to the new key first.`,
  options: { key: { type: 'string' }, grace: { type: 'string' } },
  optionHelp: [
    ['--key <key-id>', 'the key to replace, when the environment has several (see otpgate keys list)'],
    ['--grace <duration>', `keep the old key working for e.g. 90s, 30m, 24h or 7d (at most ${MAX_GRACE_SECONDS / 86_400}d)`],
  ],
  async run(input) {
    const [projectId, environment] = [arg(input, 0), arg(input, 1)];
    const graceText = str(input, 'grace');
    const graceSeconds = graceText === undefined ? undefined : parseDuration(graceText);
    if (graceText !== undefined && graceSeconds === undefined) throw new UsageError(`--grace "${graceText}" is not a duration such as 90s, 30m, 24h or 7d`, 'keys rotate');
    const target = await input.target();
    const keyId = str(input, 'key');
    if (keyId === undefined) {
      const live = (await target.repo.listAppKeys(projectId, environment)).filter((k) => k.expiresAt === undefined);
      if (live.length > 1) {
        throw new CliError(`${projectId}/${environment} has ${live.length} keys (${live.map((k) => k.keyId).join(', ')}): name the one to replace with --key <key-id>`);
      }
    }
    const rotation = await rotateAppKey(target.repo, { projectId, environment }, { keyId, graceSeconds }, input.now());
    const old = rotation.replaced.keyId;
    const until = rotation.replacedExpiresAt;
    return {
      json: {
        projectId,
        ...keyJson(target, projectId, rotation.issued),
        replaced: { keyId: old, ...(until === undefined ? {} : { expiresAt: new Date(until).toISOString() }) },
      },
      text: [
        `Rotated the key of ${projectId}/${environment} on ${target.description}.`,
        '',
        keyLines(target, projectId, [rotation.issued]),
        '',
        until === undefined
          ? `The old key ${old} is revoked (warm functions may accept it for up to ${CACHE_SECONDS} more seconds).`
          : `The old key ${old} keeps working until ${shortTime(until)}.`,
        KEEP_KEY,
      ].join('\n'),
    };
  },
};

const keysRevoke: Command = {
  group: 'keys',
  name: 'revoke',
  args: '<project> <key-id>',
  minArgs: 2,
  maxArgs: 2,
  summary: 'revoke an APP-KEY by its id',
  help: `Deletes the key. New requests with it are refused at once by new function containers and
within ${CACHE_SECONDS} seconds by warm ones, which cache keys that long.`,
  async run(input) {
    const [projectId, keyId] = [arg(input, 0), arg(input, 1)];
    const target = await input.target();
    const revoked = await revokeAppKey(target.repo, projectId, keyId);
    const now = input.now().getTime();
    const left = (await target.repo.listAppKeys(projectId, revoked.environment)).filter((k) => k.expiresAt === undefined || k.expiresAt > now);
    const where = `${projectId}/${revoked.environment}`;
    return {
      json: { projectId, environment: revoked.environment, keyId, revoked: true, keysLeft: left.length },
      text: [
        `Revoked key ${keyId} of ${where} on ${target.description}; warm functions may accept it for up to ${CACHE_SECONDS} more seconds.`,
        ...(left.length === 0 ? [`${where} has no key left: create one with npx otpgate keys create ${projectId} ${revoked.environment}`] : []),
      ].join('\n'),
    };
  },
};

const keysRotateSigning: Command = {
  group: 'keys',
  name: 'rotate-signing',
  args: '',
  minArgs: 0,
  maxArgs: 0,
  summary: 'rotate the token signing key (old tokens keep verifying)',
  help: `Makes a new token signing key. The JWKS publishes it at once, beside the old one; it signs
new tokens 10 minutes later (so every JWKS cache has it first), and tokens signed with the old key
keep verifying. Locally the key is in the secrets folder and a running npm start re-reads it
within 5 minutes; on a stack (--stack) Secrets Manager runs the stack's rotation function.
A second rotation within a day is refused without --force: it would drop a key that may have
signed tokens still valid.`,
  options: { force: { type: 'boolean' }, 'activate-now': { type: 'boolean' } },
  optionHelp: [
    ['--force', 'rotate although the last rotation was less than a day ago'],
    ['--activate-now', 'locally: sign with the new key as soon as it is re-read, not 10 minutes later'],
  ],
  async run(input) {
    const target = await input.target();
    if (target.rotateSigningKey === undefined) throw new CliError(`the signing key of ${target.description} is not known here: use the local stack or --stack <name>`);
    let result;
    try {
      result = await target.rotateSigningKey({ force: input.values.force === true, activateNow: input.values['activate-now'] === true });
    } catch (error) {
      if (error instanceof RotationTooSoonError) throw new CliError(error.message);
      throw error;
    }
    const when = result.activatesAt === undefined ? '10 minutes after the rotation runs' : `from ${result.activatesAt.toISOString()}`;
    return {
      json: { rotated: true, ...(result.activatesAt === undefined ? {} : { activatesAt: result.activatesAt.toISOString() }) },
      text: `Rotated the signing key of ${target.description}. New tokens are signed with the new key ${when};
tokens signed with the old one keep verifying.`,
    };
  },
};

// ---------------------------------------------------------------------------------------------
// identifiers

/** A phone number in E.164 (spaces, dots, dashes and brackets allowed) or an email address. */
const identifierArg = (raw: string) => {
  const phone = raw.replace(/[\s().-]/g, '');
  if (raw.includes('@')) {
    try {
      return emailIdentity(normaliseEmail(raw));
    } catch {
      throw new UsageError(`${raw} is not an email address`);
    }
  }
  if (/^\+[1-9][0-9]{6,14}$/.test(phone)) return phoneIdentity(phone);
  throw new UsageError(`give the phone number in E.164, with its country code (+919876543211), or an email address`);
};

const identifiersRemove: Command = {
  group: 'identifiers',
  name: 'remove',
  args: '<project> <env> <phone-or-email>',
  minArgs: 3,
  maxArgs: 3,
  summary: 'delete the user of a phone number or email, and end their sessions',
  help: `Deletes the user a phone number or email belongs to (a user's request to be forgotten, a
number given up): the user and the address go, every refresh token of the user stops working at
once (access tokens already issued live out their lifetime, at most tokenTtlSeconds), and a code
pending for the address no longer signs anyone in as that user. The address's send and failure
history stays (the limits keep holding), without the user. Signing up again makes a new user with
a new id.`,
  async run(input) {
    const [projectId, environment, identity] = [arg(input, 0), arg(input, 1), identifierArg(arg(input, 2))];
    const target = await input.target();
    const removed = await target.identities.removeUser({ projectId, environment }, identity, Date.now());
    return {
      json: { projectId, environment, identifier: identity.address, removed },
      text: removed
        ? `Removed the user of ${identity.address} in ${projectId}/${environment} on ${target.description}, and ended their sessions.`
        : `${identity.address} has no user in ${projectId}/${environment} on ${target.description}: nothing to remove.`,
    };
  },
};

const identifiersUnlock: Command = {
  group: 'identifiers',
  name: 'unlock',
  args: '<project> <env> <phone-or-email>',
  minArgs: 3,
  maxArgs: 3,
  summary: 'clear the wrong-code count of a phone number or email',
  help: `After ${settingDefaults.maxConsecutiveFailures} wrong codes in a row (maxConsecutiveFailures) a phone number or email is
locked until it verifies or an operator clears it; this clears it, and its hourly failure window
too. Give the phone number in E.164 (+919876543211) or the email address. The pending code, if
any, stays as it is.`,
  async run(input) {
    const [projectId, environment, identity] = [arg(input, 0), arg(input, 1), identifierArg(arg(input, 2))];
    const target = await input.target();
    const cleared = await target.identities.clearFailures({ projectId, environment }, identity);
    return {
      json: { projectId, environment, identifier: identity.address, cleared },
      text: cleared
        ? `Cleared the wrong-code count of ${identity.address} in ${projectId}/${environment} on ${target.description}.`
        : `${identity.address} has no codes or failures in ${projectId}/${environment} on ${target.description}: nothing to clear.`,
    };
  },
};

// ---------------------------------------------------------------------------------------------
// settings

/** What each setting means and its default, for help and `settings show` (other settings are listed by name). */
const settingInfo: Record<string, { readonly about: string; readonly fallback?: string }> = {
  appName: { about: 'named in the SMS, WhatsApp and email text (1-60 characters)' },
  codeLength: { about: 'digits per code (6-10; NIST SP 800-63B-4 asks for at least 6)' },
  otpTtlSeconds: { about: 'how long a code is valid, in seconds (30-600)' },
  maxAttempts: { about: 'wrong tries before a code is dead (1-20)' },
  tokenTtlSeconds: { about: 'access token lifetime, in seconds (60-86400)' },
  verificationTokenTtlSeconds: { about: 'lifetime of /v1/user/authenticate tokens, in seconds (60-86400)' },
  refreshTokenTtlSeconds: { about: 'lifetime of each refresh token, in seconds (3600-31536000)' },
  sessionMaxLifetimeSeconds: {
    about: 'absolute session lifetime from sign-in, however often refreshed, in seconds (3600-31536000)',
    fallback: '7776000 (90 days), or refreshTokenTtlSeconds if longer',
  },
  defaultCountryCode: { about: 'calling code for numbers sent without one, e.g. +91', fallback: "the deployment's" },
  allowedCountries: { about: 'countries phone numbers may belong to, e.g. ["IN","US"]; ["*"] for all', fallback: "the default calling code's country" },
  whatsappConfigs: { about: 'WhatsApp OTP configurations by uid, as JSON (see the README)' },
  resendCooldownSeconds: { about: 'seconds between two codes to one identifier (0-3600)' },
  sendsPerIdentifierPerHour: { about: 'codes per identifier per hour (1-100)' },
  sendsPerIdentifierPerDay: { about: 'codes per identifier per day (1-1000)' },
  sendsPerIpPerHour: { about: 'codes per end-user IP per hour, where the style knows it (0 = off)' },
  sendsPerIpPerHourByStyle: { about: 'per-style overrides of sendsPerIpPerHour, e.g. {"mobile-email":50}' },
  failedVerificationsPerIdentifierPerHour: { about: 'wrong codes per identifier per hour (1-100)' },
  maxConsecutiveFailures: { about: 'consecutive wrong codes per identifier before it is locked (1-100)' },
  smsPerHour: { about: 'project-wide SMS per hour' },
  smsPerDay: { about: 'project-wide SMS per day' },
  whatsappPerHour: { about: 'project-wide WhatsApp messages per hour' },
  whatsappPerDay: { about: 'project-wide WhatsApp messages per day' },
  sendsPerCountryPerHour: { about: 'SMS and WhatsApp messages per destination country per hour' },
  emailPerHour: { about: 'project-wide emails per hour (SES reputation and quota)' },
  emailPerDay: { about: 'project-wide emails per day' },
  testIdentifiers: { about: 'fixed codes for test numbers/emails, e.g. {"+15559876543":"123456"}' },
  testIdentifierEnvironments: { about: 'environments where testIdentifiers apply, e.g. ["development"]' },
  concealUserExistence: { about: 'true: login and signup answer alike for known and unknown identifiers' },
  emailFromName: { about: 'display name on the email From line; the address stays the deployment\'s', fallback: 'none (the address alone)' },
  emailSubject: { about: 'email subject; may use {code}, {app}, {minutes}', fallback: 'Your {app} sign-in code' },
  smsTemplate: { about: 'SMS text; must contain {code}; may use {app}, {minutes}', fallback: '{code} is your {app} code. It expires in {minutes} minutes. Do not share it.' },
  whatsappTemplate: { about: 'WhatsApp text (no Content template); must contain {code}', fallback: '{code} is your {app} verification code. For your security, do not share this code.' },
  webOtpDomain: { about: 'adds the WebOTP / SMS Retriever last line "@<domain> #<code>" to every SMS', fallback: 'none (no such line)' },
};

const defaultOf = (name: string): string => {
  const fallback = settingInfo[name]?.fallback;
  if (fallback !== undefined) return fallback;
  const value = (settingDefaults as Record<string, unknown>)[name];
  return value === undefined ? 'none' : showValue(value);
};

const settingsHelpList = (): string =>
  columns(settingNames().map((name) => [name, settingInfo[name]?.about ?? 'see the README']));

const settingsRows = (stored: Record<string, unknown>) =>
  settingNames().map((name) => (name in stored ? [name, showValue(stored[name]), 'set'] : [name, defaultOf(name), 'default']));

const settingsShow: Command = {
  group: 'settings',
  name: 'show',
  args: '<project>',
  minArgs: 1,
  maxArgs: 1,
  summary: "show a project's settings, with the defaults of those not set",
  help: `Shows every setting of the project: its stored value, or the default it falls back to.`,
  async run(input) {
    const projectId = arg(input, 0);
    const target = await input.target();
    const project = await requireProject(target, projectId);
    return {
      json: { projectId, settings: project.settings, defaults: settingDefaults },
      text: `Settings of ${projectId} on ${target.description}:\n\n${columns([['SETTING', 'VALUE', ''], ...settingsRows(project.settings)])}`,
    };
  },
};

/** name=value: text settings take the value as written; the others read it as JSON (8, ["IN","US"], true). */
const parseAssignment = (assignment: string): [string, unknown] => {
  const at = assignment.indexOf('=');
  if (at <= 0) throw new UsageError(`"${assignment}" is not name=value`, 'settings set');
  const name = assignment.slice(0, at);
  const raw = assignment.slice(at + 1);
  if (isTextSetting(name)) return [name, raw];
  try {
    return [name, JSON.parse(raw)];
  } catch {
    return [name, raw];
  }
};

const settingsChanged = (target: Target, projectId: string, settings: Record<string, unknown>): Result => ({
  json: { projectId, settings },
  text: `Settings of ${projectId} saved on ${target.description}; they apply from the next request.\n\n${columns([['SETTING', 'VALUE', ''], ...settingsRows(settings)])}`,
});

const settingsSet: Command = {
  group: 'settings',
  name: 'set',
  args: '<project> <name>=<value>...',
  minArgs: 1,
  maxArgs: Infinity,
  summary: "change a project's settings",
  help: `Changes settings; the others keep their values. Text settings take the value as written;
numbers, lists and objects are JSON. Every value is checked before anything is saved: a wrong one
is refused, naming the setting, and nothing changes. Changes apply from the next request.

Example:
  npx otpgate settings set acme codeLength=8 appName="Acme" allowedCountries='["IN","US"]' \\
    smsTemplate='{code} is your {app} code' webOtpDomain=acme.example

Settings:
${settingsHelpList()}`,
  options: { settings: { type: 'string' } },
  optionHelp: [['--settings <JSON>', 'settings as one JSON object instead of (or besides) name=value']],
  async run(input) {
    const projectId = arg(input, 0);
    const set: Record<string, unknown> = str(input, 'settings') === undefined ? {} : parseJsonObject(str(input, 'settings')!, '--settings');
    for (const assignment of input.args.slice(1)) {
      const [name, value] = parseAssignment(assignment);
      set[name] = value;
    }
    if (Object.keys(set).length === 0) throw new UsageError('nothing to set: give name=value pairs or --settings <JSON>', 'settings set');
    const target = await input.target();
    return settingsChanged(target, projectId, await changeSettings(target.repo, projectId, { set }));
  },
};

const settingsUnset: Command = {
  group: 'settings',
  name: 'unset',
  args: '<project> <name>...',
  minArgs: 2,
  maxArgs: Infinity,
  summary: 'reset settings to their defaults',
  help: 'Removes the named settings from the project, so their defaults apply again from the next request.',
  async run(input) {
    const projectId = arg(input, 0);
    const names = input.args.slice(1);
    const target = await input.target();
    const project = await requireProject(target, projectId);
    const unknown = names.find((name) => !settingNames().includes(name) && !(name in project.settings));
    if (unknown !== undefined) throw new CliError(`${unknown}: unknown setting (known: ${settingNames().join(', ')})`);
    return settingsChanged(target, projectId, await changeSettings(target.repo, projectId, { unset: names }));
  },
};

// ---------------------------------------------------------------------------------------------
// twilio

const E164 = /^\+[1-9]\d{6,14}$/;

/** A project's own Twilio account, in the shape the senders read (delivery/twilio-client.ts). */
const twilioAccount = v.pipe(
  v.object({
    accountSid: v.pipe(v.string(), v.regex(/^AC[0-9a-fA-F]{32}$/, '--account-sid must be AC followed by 32 hex digits')),
    authToken: v.pipe(v.string(), v.regex(/^\S{16,}$/, '--auth-token must be the account\'s auth token (no spaces)')),
    from: v.optional(v.pipe(v.string(), v.regex(/^(\+[1-9]\d{6,14}|(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11})$/, '--from must be an E.164 number such as +15551234567 or an alphanumeric sender id of up to 11 characters'))),
    messagingServiceSid: v.optional(v.pipe(v.string(), v.regex(/^MG[0-9a-fA-F]{32}$/, '--messaging-service-sid must be MG followed by 32 hex digits'))),
    whatsappFrom: v.optional(v.pipe(v.string(), v.transform((s) => s.replace(/^whatsapp:/, '')), v.regex(E164, '--whatsapp-from must be an E.164 number such as +15551234567'))),
  }),
  // As the senders read it: SMS need a sender or a Messaging Service, WhatsApp a WhatsApp sender; a project may use either.
  v.check(
    (account) => account.from !== undefined || account.messagingServiceSid !== undefined || account.whatsappFrom !== undefined,
    'give --from, --messaging-service-sid or --whatsapp-from: who the messages come from',
  ),
);

const requireSecrets = (target: Target) => {
  if (!target.secrets) throw new CliError("--table names only the table: a project's Twilio account needs the local stack or --stack <name>");
  return target.secrets;
};

const twilioSet: Command = {
  group: 'twilio',
  name: 'set',
  args: '<project>',
  minArgs: 1,
  maxArgs: 1,
  summary: "send the project's SMS and WhatsApp messages through its own Twilio account",
  help: `Stores the project's own Twilio credentials: in the local stack as the file
<secrets dir>/projects/<project>/twilio, in a deployed stack as the Secrets Manager secret
otpgate/<stack>/projects/<project>/twilio. Never in the table. Projects without one use the
stack's Twilio account. Running it again replaces the credentials.

The auth token may come from the environment (TWILIO_AUTH_TOKEN) instead of the command line,
which keeps it out of the shell history.`,
  options: {
    'account-sid': { type: 'string' },
    'auth-token': { type: 'string' },
    from: { type: 'string' },
    'messaging-service-sid': { type: 'string' },
    'whatsapp-from': { type: 'string' },
  },
  optionHelp: [
    ['--account-sid <AC...>', 'the Twilio account SID'],
    ['--auth-token <token>', 'its auth token (default: $TWILIO_AUTH_TOKEN)'],
    ['--from <+E.164 | sender id>', 'the number (or alphanumeric sender id) SMS come from'],
    ['--messaging-service-sid <MG...>', 'send SMS through a Messaging Service instead of --from'],
    ['--whatsapp-from <+E.164>', 'the WhatsApp sender number'],
  ],
  async run(input) {
    const projectId = arg(input, 0);
    const accountSid = str(input, 'account-sid');
    const authToken = str(input, 'auth-token') ?? input.env.TWILIO_AUTH_TOKEN;
    if (accountSid === undefined) throw new UsageError('--account-sid is required', 'twilio set');
    if (authToken === undefined || authToken === '') throw new UsageError('--auth-token (or TWILIO_AUTH_TOKEN) is required', 'twilio set');
    const parsed = v.safeParse(twilioAccount, {
      accountSid,
      authToken,
      from: str(input, 'from'),
      messagingServiceSid: str(input, 'messaging-service-sid'),
      whatsappFrom: str(input, 'whatsapp-from'),
    });
    if (!parsed.success) throw new CliError(parsed.issues.map((issue) => issue.message).join('; '));
    const account = Object.fromEntries(Object.entries(parsed.output).filter(([, value]) => value !== undefined));
    const target = await input.target();
    const secrets = requireSecrets(target);
    await requireProject(target, projectId);
    await secrets.put(projectId, JSON.stringify(account));
    const { authToken: _hidden, ...shown } = account;
    return {
      json: { projectId, ...shown, secret: secrets.nameOf(projectId) },
      text: `${projectId} now sends through its own Twilio account ${accountSid} (saved to ${secrets.nameOf(projectId)}).`,
    };
  },
};

const twilioShow: Command = {
  group: 'twilio',
  name: 'show',
  args: '<project>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'show whether a project has its own Twilio account (never the auth token)',
  help: "Shows the project's own Twilio account SID and senders, or that it uses the stack's account.",
  async run(input) {
    const projectId = arg(input, 0);
    const target = await input.target();
    const secrets = requireSecrets(target);
    await requireProject(target, projectId);
    const raw = await secrets.get(projectId);
    if (raw === undefined) return { json: { projectId, configured: false }, text: `${projectId} uses the stack's Twilio account.` };
    let stored: Record<string, unknown>;
    try {
      stored = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      throw new CliError(`${secrets.nameOf(projectId)} is not JSON; set it again with otpgate twilio set`);
    }
    const shown = Object.fromEntries(['accountSid', 'from', 'messagingServiceSid', 'whatsappFrom'].filter((k) => k in stored).map((k) => [k, stored[k]]));
    return {
      json: { projectId, configured: true, ...shown, secret: secrets.nameOf(projectId) },
      text: `${projectId} uses its own Twilio account (${secrets.nameOf(projectId)}):\n\n${columns(Object.entries(shown).map(([k, value]) => [k, showValue(value)]))}`,
    };
  },
};

const twilioClear: Command = {
  group: 'twilio',
  name: 'clear',
  args: '<project>',
  minArgs: 1,
  maxArgs: 1,
  summary: "remove the project's own Twilio account: it uses the stack's again",
  help: "Deletes the project's Twilio credentials (in AWS without a recovery window), so its messages go through the stack's Twilio account again.",
  async run(input) {
    const projectId = arg(input, 0);
    const target = await input.target();
    const secrets = requireSecrets(target);
    await requireProject(target, projectId);
    const removed = await secrets.remove(projectId);
    return {
      json: { projectId, cleared: removed },
      text: removed ? `${projectId} uses the stack's Twilio account again.` : `${projectId} had no Twilio account of its own; nothing changed.`,
    };
  },
};

// ---------------------------------------------------------------------------------------------
// verify-services

const noEnvironment = (projectId: string, environment: string) =>
  new CliError(`${projectId} has no environment ${environment} (see otpgate envs list ${projectId})`);

/** What a twilio client needs besides the ServiceSid: who it authenticates as, and where the Verify API is. */
const verifyClientJson = (target: Target, service: VerifyServiceRecord) => ({
  serviceSid: service.serviceSid,
  accountSid: service.accountSid,
  projectId: service.projectId,
  environment: service.environment,
  friendlyName: service.friendlyName,
  createdAt: service.createdAt,
  password: `an APP-KEY of ${service.projectId}/${service.environment}`,
  ...(target.apiUrl === undefined ? {} : { baseUrl: target.apiUrl }),
});

const verifyClientLines = (target: Target, projectId: string, environment: string, accountSid: string): string[] => [
  `  Account id  ${accountSid}   the Basic-auth username (twilio(accountSid, password))`,
  `  Password    an APP-KEY of ${projectId}/${environment}   (otpgate keys create ${projectId} ${environment} makes one)`,
  target.apiUrl === undefined
    ? `  Base URL    the stack's ApiUrl output, set as client.verify.baseUrl`
    : `  Base URL    ${target.apiUrl}   set as client.verify.baseUrl`,
];

const verifyServicesCreate: Command = {
  group: 'verify-services',
  name: 'create',
  args: '<project> <env>',
  minArgs: 2,
  maxArgs: 2,
  summary: 'create a Twilio Verify service (ServiceSid) for an environment',
  help: `Creates a ServiceSid for the Twilio Verify API of an environment and prints what a twilio
client needs: the ServiceSid, the account id it authenticates with (the Basic-auth username: the
environment's, the same for all its services, and not a secret), that the password is an APP-KEY
of the environment, and the base URL to set as client.verify.baseUrl.

Example:
  npx otpgate verify-services create acme production --name "Acme app"`,
  options: { name: { type: 'string' } },
  optionHelp: [['--name <text>', `the service's friendly name, up to ${MAX_FRIENDLY_NAME} characters (default: "<project> <env>")`]],
  async run(input) {
    const [projectId, environment] = [arg(input, 0), arg(input, 1)];
    const name = str(input, 'name');
    if (name !== undefined && (name.trim() === '' || name.trim().length > MAX_FRIENDLY_NAME)) {
      throw new UsageError(`--name must be 1 to ${MAX_FRIENDLY_NAME} characters (Twilio's limit for a friendly name)`, 'verify-services create');
    }
    const target = await input.target();
    await requireProject(target, projectId);
    let service: VerifyServiceRecord;
    try {
      service = await createVerifyService(target.repo, { projectId, environment }, name === undefined ? {} : { friendlyName: name }, input.now());
    } catch (error) {
      if (error instanceof EnvironmentNotFoundError) throw noEnvironment(projectId, environment);
      throw error;
    }
    return {
      json: verifyClientJson(target, service),
      text: [
        `Created Verify service "${service.friendlyName}" for ${projectId}/${environment} on ${target.description}.`,
        '',
        `  ServiceSid  ${service.serviceSid}`,
        ...verifyClientLines(target, projectId, environment, service.accountSid),
      ].join('\n'),
    };
  },
};

const verifyServicesList: Command = {
  group: 'verify-services',
  name: 'list',
  args: '<project> [<env>]',
  minArgs: 1,
  maxArgs: 2,
  summary: "list a project's Twilio Verify services (of one environment, or all)",
  help: `Lists the Verify services of a project, or of one of its environments, with the account id
a twilio client authenticates with (its password is an APP-KEY of the service's environment) and
the base URL to set as client.verify.baseUrl.`,
  async run(input) {
    const [projectId, environment] = [arg(input, 0), input.args[1]];
    const target = await input.target();
    await requireProject(target, projectId);
    const environments = (await target.repo.listEnvironments(projectId)).map((e) => e.environment);
    if (environment !== undefined && !environments.includes(environment)) throw noEnvironment(projectId, environment);
    const services = (await Promise.all((environment === undefined ? environments : [environment]).map((env) => listVerifyServices(target.repo, { projectId, environment: env })))).flat();
    const scope = environment === undefined ? projectId : `${projectId}/${environment}`;
    const json = services.map((service) => verifyClientJson(target, service));
    if (services.length === 0) {
      return { json, text: `${scope} has no Verify services; create one with: npx otpgate verify-services create ${projectId} ${environment ?? '<env>'}` };
    }
    return {
      json,
      text: [
        `Verify services of ${scope} on ${target.description}:`,
        '',
        columns([['SERVICE SID', 'ENVIRONMENT', 'ACCOUNT ID', 'NAME', 'CREATED'], ...services.map((s) => [s.serviceSid, s.environment, s.accountSid, s.friendlyName, shortTime(s.createdAt)])]),
        '',
        "A twilio client authenticates with the service's account id as username and an APP-KEY of its environment as password,",
        `and sets client.verify.baseUrl to ${target.apiUrl ?? "the stack's ApiUrl output"}.`,
      ].join('\n'),
    };
  },
};

export const commands: readonly Command[] = [
  projectsCreate,
  projectsList,
  envsAdd,
  envsList,
  keysCreate,
  keysList,
  keysRotate,
  keysRevoke,
  keysRotateSigning,
  identifiersUnlock,
  identifiersRemove,
  settingsShow,
  settingsSet,
  settingsUnset,
  twilioSet,
  twilioShow,
  twilioClear,
  verifyServicesCreate,
  verifyServicesList,
];

export const groups: Readonly<Record<string, string>> = {
  projects: 'projects: create and list',
  envs: "a project's environments",
  keys: 'APP-KEYs: create, list, rotate, revoke; the token signing key: rotate-signing',
  identifiers: "users' phone numbers and emails: unlock after too many wrong codes, remove a user",
  settings: "a project's settings: code length, validity, templates, ...",
  twilio: "a project's own Twilio account",
  'verify-services': 'Twilio Verify services: the ServiceSid and account id a twilio client uses',
};
