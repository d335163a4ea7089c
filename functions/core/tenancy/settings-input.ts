import * as v from 'valibot';
import { settingsSchema } from '#core/tenancy/settings';

/**
 * Settings as an operator writes them (the CLI, project creation): the same schema the handlers
 * read with, but strict. An unknown name is refused rather than stored and silently ignored, and
 * every problem is reported as one sentence naming its field, so a wrong setting never reaches a
 * handler and the operator knows what to fix.
 */

export class SettingsError extends Error {
  /** One sentence per problem, each starting with the field's name. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid settings: ${problems.join('; ')}`);
    this.name = 'SettingsError';
    this.problems = problems;
  }
}

const strictSettings = v.strictObject(settingsSchema.entries);

export const settingNames = (): string[] => Object.keys(settingsSchema.entries);

/** Fields whose value is text; anything else (numbers, lists, objects) is written as JSON. */
export const isTextSetting = (name: string): boolean => {
  const entry = (settingsSchema.entries as Record<string, { wrapped?: { type?: string } } | undefined>)[name];
  return entry?.wrapped?.type === 'string';
};

/** What a regex means, per field: "must match /^\+[1-9].../" helps nobody. */
const formatHints: Record<string, string> = {
  defaultCountryCode: 'must be a calling code such as +91',
  allowedCountries: 'must hold ISO 3166-1 alpha-2 country codes in capitals, such as "IN" or "US"',
  emailFromName: 'must not contain quotes, backslashes, angle brackets or line breaks',
  emailSubject: 'must be a single line',
  webOtpDomain: 'must be a host name such as example.com (no scheme, path or port)',
};

const expectedNames: Record<string, string> = {
  number: 'a number',
  string: 'text',
  Array: 'a JSON list',
  Object: 'a JSON object',
  boolean: 'true or false',
};

const shown = (input: unknown): string => {
  const text = JSON.stringify(input) ?? String(input);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
};

const pathOf = (issue: v.BaseIssue<unknown>): string =>
  (issue.path ?? [])
    .map((item, index) => (typeof item.key === 'number' ? `[${item.key}]` : `${index === 0 ? '' : '.'}${String(item.key)}`))
    .join('');

const closest = (name: string): string | undefined => settingNames().find((known) => known.toLowerCase() === name.toLowerCase());

const sentenceFor = (issue: v.BaseIssue<unknown>): string => {
  const field = pathOf(issue);
  const top = String(issue.path?.[0]?.key ?? '');
  if (issue.type === 'strict_object' && issue.expected === 'never') {
    const suggestion = closest(top);
    return `${field}: unknown setting${suggestion ? `; did you mean ${suggestion}?` : ` (known: ${settingNames().join(', ')})`}`;
  }
  if (field === '') return `settings must be ${expectedNames.Object}`;
  const requirement = (issue as { requirement?: unknown }).requirement;
  const isText = typeof issue.input === 'string';
  switch (issue.type) {
    case 'integer':
      return `${field}: must be a whole number (got ${shown(issue.input)})`;
    case 'min_value':
      return `${field}: must be at least ${String(requirement)} (got ${shown(issue.input)})`;
    case 'max_value':
      return `${field}: must be at most ${String(requirement)} (got ${shown(issue.input)})`;
    case 'min_length':
      return requirement === 1 ? `${field}: must not be empty` : `${field}: must have at least ${String(requirement)} ${isText ? 'characters' : 'items'}`;
    case 'max_length':
      return `${field}: must have at most ${String(requirement)} ${isText ? 'characters' : 'items'} (got ${(issue.input as { length: number }).length})`;
    case 'regex':
      return `${field}: ${formatHints[top] ?? issue.message} (got ${shown(issue.input)})`;
    default:
      if (issue.kind === 'schema') return `${field}: must be ${expectedNames[issue.expected ?? ''] ?? issue.expected} (got ${shown(issue.input)})`;
      return `${field}: ${issue.message}`;
  }
};

/** Validates settings to be stored; throws a SettingsError naming every wrong field. */
export const parseSettingsInput = (input: unknown): Record<string, unknown> => {
  // valibot takes an array for an object with keys "0", "1"...: refuse it whole.
  if (Array.isArray(input)) throw new SettingsError([`settings must be ${expectedNames.Object}`]);
  const result = v.safeParse(strictSettings, input, { abortPipeEarly: true });
  if (!result.success) throw new SettingsError(result.issues.map(sentenceFor));
  return Object.fromEntries(Object.entries(result.output).filter(([, value]) => value !== undefined));
};
