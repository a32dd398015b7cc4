/** What `mp3c` exits with; scripts can rely on these (docs/cli.md lists them). */
export const EXIT = {
  ok: 0,
  /** The gateway refused or failed, the network, the disk. */
  error: 1,
  /** A bad command line: unknown command or option, a missing or malformed value. */
  usage: 2,
  /** Not logged in, the token expired or was refused, or the login itself was refused. */
  auth: 3,
  /** No such job or MP3 (or someone else's: the two look the same). */
  notFound: 4,
  /** The job failed or was cancelled. */
  jobFailed: 5,
  /** Ctrl-C (SIGINT); an upload or download can be resumed by running the same command again. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure with the message to print and the exit code it means. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, message);

/** Thrown when the user pressed Ctrl-C; whatever can be resumed has been left resumable. */
export class Interrupted extends CliError {
  constructor(message = 'interrupted') {
    super(EXIT.interrupted, message);
  }
}
