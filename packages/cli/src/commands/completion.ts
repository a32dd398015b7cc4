import type { Command } from '../command.js';
import { SHELLS, type Shell, completionScript } from '../completion.js';
import { EXIT, usageError } from '../errors.js';

/** `mp3c completion SHELL`; `commands` is every command, this one included, read when it runs. */
export function completionCommand(commands: () => readonly Command[]): Command {
  return {
    name: 'completion',
    summary: 'print the shell completion script for bash, zsh or fish',
    help: `Usage: mp3c completion bash|zsh|fish

Prints the script that completes mp3c's commands, options and their values in your shell:
  bash   eval "$(mp3c completion bash)"            in ~/.bashrc
  zsh    eval "$(mp3c completion zsh)"             in ~/.zshrc, after compinit
  fish   mp3c completion fish > ~/.config/fish/completions/mp3c.fish`,
    options: {},
    async run(ctx, parsed) {
      const [shell, ...rest] = parsed.positionals;
      if (!shell || rest.length > 0) throw usageError(`name one shell: ${SHELLS.join(', ')}`);
      if (!(SHELLS as readonly string[]).includes(shell))
        throw usageError(`no completion for ${JSON.stringify(shell.slice(0, 40))} (one of ${SHELLS.join(', ')})`);
      ctx.stdout.write(completionScript(shell as Shell, commands()));
      return EXIT.ok;
    },
  };
}
