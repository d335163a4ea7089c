/** A failure the operator can act on: printed as one line, exit status 1. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The command line itself is wrong: exit status 2, with a pointer to the command's help. */
export class UsageError extends CliError {
  constructor(message: string, readonly helpFor = 'otpgate') {
    super(message, 2);
    this.name = 'UsageError';
  }
}
