import type { OptionSpec, Parsed } from './args.js';
import type { Context } from './context.js';
import type { ExitCode } from './errors.js';

export interface Command {
  name: string;
  /** One line for `mp3c --help`. */
  summary: string;
  /** `mp3c <name> --help`: usage line, what it does, its own options (the common ones are added). */
  help: string;
  options: OptionSpec;
  run(ctx: Context, parsed: Parsed): Promise<ExitCode>;
}

/** One JSON value per line on stdout, for `--json`. */
export const printJson = (ctx: Context, value: unknown): void => {
  ctx.stdout.write(`${JSON.stringify(value)}\n`);
};
