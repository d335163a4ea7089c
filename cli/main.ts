import { parseArgs } from 'node:util';
import { EnvironmentExistsError, ProjectExistsError, ProjectNotFoundError, SettingsChangedError } from '#core/store/repository';
import { SettingsError } from '#core/tenancy/settings-input';
import { commands, groups, type Command, type OptionSpec } from './commands';
import { CliError, UsageError } from './errors';
import { columns } from './format';
import { connect, defaultStackName, type Target, type Where } from './target';

/**
 * `npx otpgate <group> <command> [arguments] [options]`: argument parsing, help, output and exit
 * status. Output goes to stdout (text, or JSON with --json); every failure is one line on stderr,
 * never a stack trace. Exit status: 0 done, 1 failed, 2 wrong usage.
 */

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => Date;
  /** Where commands work; tests may hand in their own target. */
  readonly connect: (where: Where) => Promise<Target>;
}

const globalOptions: Record<string, OptionSpec> = {
  stack: { type: 'string' },
  region: { type: 'string' },
  table: { type: 'string' },
  'local-config': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const globalHelp = `Where (default: the local stack that \`npm start\` runs, found in .otp-local/local.json):
${columns([
  ['--stack [<name>]', 'a deployed stack, found by its CloudFormation outputs with the usual AWS'],
  ['', "credentials and region (AWS_PROFILE, AWS_REGION); the name defaults to OtpGate (or cdk.json's"],
  ['', 'otpgate:stackName); OTPGATE_STACK=<name> does the same for every command'],
  ['--region <region>', "the deployed stack's region (default: AWS_REGION, or the profile's)"],
  ['--table <name>', 'a table named directly, with the usual AWS settings (no Twilio commands)'],
  ['--local-config <file>', 'the local stack\'s file (default: $OTPGATE_HOME/local.json or .otp-local/local.json)'],
])}

Output:
${columns([
  ['--json', 'machine-readable JSON on stdout'],
  ['-h, --help', 'help for any command, e.g. otpgate keys rotate --help'],
])}`;

const usageOf = (command: Command) => `otpgate ${command.group} ${command.name}${command.args ? ` ${command.args}` : ''} [options]`;

const topHelp = (): string =>
  `otpgate: projects, environments, APP-KEYs and settings of an otpgate stack

Usage: npx otpgate <command> [arguments] [options]

Commands:
${columns(commands.map((c) => [`${c.group} ${c.name}${c.args ? ` ${c.args}` : ''}`, c.summary]))}

${globalHelp}

Exit status: 0 done, 1 failed, 2 wrong usage.`;

const groupHelp = (group: string): string =>
  `otpgate ${group}: ${groups[group]}

Commands:
${columns(commands.filter((c) => c.group === group).map((c) => [`otpgate ${c.group} ${c.name}${c.args ? ` ${c.args}` : ''}`, c.summary]))}

Run otpgate ${group} <command> --help for a command's options.`;

const commandHelp = (command: Command): string =>
  `Usage: ${usageOf(command)}

${command.help}
${command.optionHelp?.length ? `\nOptions:\n${columns(command.optionHelp.map(([flag, about]) => [flag, about]))}\n` : ''}
${globalHelp}`;

/** `--stack` with no name (last, or before another option) means the default stack. */
const withStackDefault = (argv: readonly string[]): string[] =>
  argv.map((token, i) => (token === '--stack' && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('-')) ? `--stack=${defaultStackName()}` : token));

/** node:util's parse errors, reworded as one short line. */
const parseFailure = (error: unknown, command: Command): UsageError => {
  const { code, message } = error as { code?: string; message?: string };
  const option = /'(-{1,2}[^' ]+)/.exec(message ?? '')?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new UsageError(`unknown option ${option}`, `${command.group} ${command.name}`);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    return new UsageError(`option ${option} needs a value (write ${option}=<value> for one starting with -)`, `${command.group} ${command.name}`);
  }
  return new UsageError(message ?? 'cannot read the command line', `${command.group} ${command.name}`);
};

const oneLine = (text: string) => text.replace(/^otpgate: /, '').replace(/\s*\n\s*/g, ' ');

const messageOf = (error: unknown): { message: string; exitCode: number } => {
  if (error instanceof UsageError) return { message: `${error.message}; see otpgate ${error.helpFor} --help`, exitCode: 2 };
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (error instanceof ProjectExistsError) return { message: `project ${error.projectId} already exists`, exitCode: 1 };
  if (error instanceof ProjectNotFoundError) return { message: `there is no project ${error.projectId} (see otpgate projects list)`, exitCode: 1 };
  if (error instanceof SettingsError || error instanceof EnvironmentExistsError || error instanceof SettingsChangedError) return { message: error.message, exitCode: 1 };
  if (error instanceof Error) return { message: error.message || error.name, exitCode: 1 };
  return { message: String(error), exitCode: 1 };
};

const run = async (argv: readonly string[], io: CliIo): Promise<number> => {
  const [group, name] = argv;
  if (group === undefined) {
    io.stderr(topHelp());
    return 2;
  }
  if (group === '--help' || group === '-h' || group === 'help') {
    io.stdout(topHelp());
    return 0;
  }
  if (group.startsWith('-')) throw new UsageError(`put the command first, e.g. otpgate projects list ${group}`);
  if (!(group in groups)) throw new UsageError(`unknown command "${group}"`);
  if (name === undefined || name === '--help' || name === '-h') {
    (name === undefined ? io.stderr : io.stdout)(groupHelp(group));
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.group === group && c.name === name);
  if (!command) throw new UsageError(`unknown command "${group} ${name}"`, group);

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: withStackDefault(argv.slice(2)), options: { ...globalOptions, ...command.options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw parseFailure(error, command);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(commandHelp(command));
    return 0;
  }
  const helpFor = `${command.group} ${command.name}`;
  if (positionals.length < command.minArgs) {
    const missing = command.args.split(' ').filter((a) => a.startsWith('<'))[positionals.length] ?? 'an argument';
    throw new UsageError(`missing ${missing.replace(/\.\.\.$/, '')}`, helpFor);
  }
  if (positionals.length > command.maxArgs) throw new UsageError(`unexpected argument "${positionals[command.maxArgs]}"`, helpFor);
  if (values.table !== undefined && values.stack !== undefined) throw new UsageError('give --stack or --table, not both', helpFor);

  let target: Target | undefined;
  const where: Where = {
    stack: values.stack as string | undefined,
    region: values.region as string | undefined,
    table: values.table as string | undefined,
    localConfig: values['local-config'] as string | undefined,
  };
  try {
    const result = await command.run({
      args: positionals,
      values: values as Record<string, string | boolean | string[] | undefined>,
      target: async () => (target ??= await io.connect(where)),
      now: io.now,
      env: io.env,
    });
    io.stdout(values.json ? JSON.stringify(result.json, null, 2) : result.text);
    return 0;
  } finally {
    target?.close();
  }
};

/** Runs one command line; returns the exit status. */
export const main = async (argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> => {
  const env = io.env ?? process.env;
  const full: CliIo = {
    stdout: io.stdout ?? ((text) => process.stdout.write(`${text}\n`)),
    stderr: io.stderr ?? ((text) => process.stderr.write(`${text}\n`)),
    env,
    now: io.now ?? (() => new Date()),
    connect: io.connect ?? ((where) => connect(where, env)),
  };
  try {
    return await run(argv, full);
  } catch (error) {
    const { message, exitCode } = messageOf(error);
    full.stderr(`otpgate: ${oneLine(message)}`);
    return exitCode;
  }
};
