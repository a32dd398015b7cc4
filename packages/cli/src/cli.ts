import { COMMON_HELP, parseCommandArgs } from './args.js';
import type { Command } from './command.js';
import { cancel } from './commands/cancel.js';
import { completionCommand } from './commands/completion.js';
import { download } from './commands/download.js';
import { jobs } from './commands/jobs.js';
import { keys } from './commands/keys.js';
import { login } from './commands/login.js';
import { logout } from './commands/logout.js';
import { status } from './commands/status.js';
import { upload } from './commands/upload.js';
import { type Io, createContext } from './context.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { VERSION } from './version.js';

export const COMMANDS: readonly Command[] = [login, upload, status, jobs, download, cancel, logout, keys, completionCommand(() => COMMANDS)];

export const EXIT_HELP = `Exit codes: 0 ok, 1 error, 2 usage, 3 login needed or refused, 4 no such job or MP3,
5 the job failed or was cancelled, 130 interrupted (Ctrl-C; run the same command again to resume).`;

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: mp3c COMMAND [options]   (mp3c COMMAND --help for its options; mp3c --version)

${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Every command:
${COMMON_HELP}

The token is kept in $XDG_CONFIG_HOME/mp3c (~/.config/mp3c), readable by you alone; MP3C_API_KEY, when
set, is used instead (an API key: mp3c keys create).
${EXIT_HELP}
`;
}

/** Runs one command line (without `node` and the script) and gives the exit code; errors are printed, not thrown. */
export async function run(argv: string[], io: Io): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? io.stdout : io.stderr).write(mainHelp());
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new CliError(EXIT.usage, `unknown command ${JSON.stringify(name)} (one of ${COMMANDS.map((c) => c.name).join(', ')})`);
    const parsed = parseCommandArgs(rest, command.options);
    if (parsed.values.help === true) {
      io.stdout.write(`${command.help}\n${COMMON_HELP}\n\n${EXIT_HELP}\n`);
      return EXIT.ok;
    }
    return await command.run(await createContext(io, parsed), parsed);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`mp3c: ${err.message}\n`);
      if (err.exitCode === EXIT.usage) io.stderr.write(`(mp3c ${command ? `${command.name} ` : ''}--help for the usage)\n`);
      return err.exitCode;
    }
    io.stderr.write(`mp3c: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.error;
  }
}
