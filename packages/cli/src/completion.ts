import { API_KEY_SCOPES } from '@mp3converter/shared/contracts/api-keys';
import { COMMON_OPTIONS, type OptionSpec } from './args.js';
import type { Command } from './command.js';
import { KEYS_SUBCOMMANDS } from './commands/keys.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** What an option's value or a command's arguments complete to: words, file names, or anything (nothing offered). */
type Completion = readonly string[] | 'files' | 'any';

/** The options whose values are known words or files; any other option with a value takes free text. */
const OPTION_VALUES: Record<string, Completion> = {
  scope: API_KEY_SCOPES,
  tags: ['keep', 'drop'],
  channels: ['1', '2'],
  output: 'files',
};

/** What each command's positional arguments are. */
const ARGUMENTS: Record<string, Completion> = {
  upload: 'files',
  keys: KEYS_SUBCOMMANDS,
  completion: SHELLS,
};

interface Option {
  long: string;
  short?: string;
  /** Takes a value (rather than being a flag). */
  value: boolean;
  multiple: boolean;
  values: Completion;
}

function optionsOf(command: Command): Option[] {
  const spec: OptionSpec = { ...command.options, ...COMMON_OPTIONS };
  return Object.entries(spec).map(([long, o]) => ({
    long,
    ...(o.short ? { short: o.short } : {}),
    value: o.type === 'string',
    multiple: o.multiple === true,
    values: OPTION_VALUES[long] ?? 'any',
  }));
}

const argumentsOf = (command: Command): Completion => ARGUMENTS[command.name] ?? 'any';

/** Single-quoted for the shells: bash, zsh and fish alike read `'\''` as a quote (no text here has a backslash). */
const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
const words = (c: readonly string[]) => c.join(' ');

function bash(commands: readonly Command[]): string {
  const cases = commands.map((command) => {
    const options = optionsOf(command);
    const names = options.flatMap((o) => [`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])]);
    const valued = options.filter((o) => o.value);
    const valueCases = valued.map((o) => {
      const pattern = [`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])].join('|');
      const reply = o.values === 'files' ? `compgen -f -- "$cur"` : o.values === 'any' ? '' : `compgen -W ${quote(words(o.values))} -- "$cur"`;
      return `        ${pattern}) COMPREPLY=(${reply ? `$(${reply})` : ''}); return ;;`;
    });
    const args = argumentsOf(command);
    const positional =
      args === 'files'
        ? `COMPREPLY=($(compgen -f -- "$cur"))`
        : args === 'any'
          ? ':'
          : `[ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W ${quote(words(args))} -- "$cur"))`;
    return `    ${command.name})
      case $prev in
${valueCases.join('\n')}
      esac
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W ${quote(words(names))} -- "$cur")); return; fi
      ${positional}
      ;;`;
  });
  return `# bash completion for mp3c. Load it with: eval "$(mp3c completion bash)"   (e.g. in ~/.bashrc)
_mp3c() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${quote(words([...commands.map((c) => c.name), '--help', '--version']))} -- "$cur"))
    return
  fi
  case \${COMP_WORDS[1]} in
${cases.join('\n')}
  esac
}
complete -o filenames -F _mp3c mp3c
`;
}

/** zsh escapes: `:` separates a name from its description in _describe and in an option's spec. */
const zshText = (text: string) => text.replace(/\\/g, '\\\\').replace(/:/g, '\\:').replace(/[[\]]/g, '\\$&');

function zshAction(values: Completion): string {
  return values === 'files' ? '_files' : values === 'any' ? ' ' : `(${words(values)})`;
}

function zsh(commands: readonly Command[]): string {
  const described = commands.map((c) => quote(`${c.name}:${zshText(c.summary)}`)).join('\n    ');
  const cases = commands.map((command) => {
    const specs = optionsOf(command).map((o) => {
      const names = o.short ? `{-${o.short},--${o.long}}` : `--${o.long}`;
      const exclusive = o.multiple ? "'*'" : o.short ? `'(-${o.short} --${o.long})'` : '';
      const value = o.value ? `:${o.long}:${zshAction(o.values)}` : '';
      return `${exclusive}${names}${quote(`[${o.long}]${value}`)}`;
    });
    const args = argumentsOf(command);
    const positional = args === 'files' ? quote('*:file:_files') : args === 'any' ? '' : quote(`1:argument:${zshAction(args)}`);
    return `        ${command.name}) _arguments -s ${[...specs, positional].filter(Boolean).join(' ')} ;;`;
  });
  return `#compdef mp3c
# zsh completion for mp3c. Load it with: eval "$(mp3c completion zsh)"   (in ~/.zshrc, after compinit),
# or save it as _mp3c in a folder of $fpath.
_mp3c() {
  local -a commands
  commands=(
    ${described}
  )
  local state line
  _arguments -C '(- *)--help[the usage]' '(- *)--version[the version]' '1: :->command' '*:: :->argument'
  case $state in
    command) _describe -t commands 'mp3c command' commands ;;
    argument)
      case $line[1] in
${cases.join('\n')}
      esac
      ;;
  esac
}
if [ "$funcstack[1]" = _mp3c ]; then _mp3c "$@"; else compdef _mp3c mp3c; fi
`;
}

function fish(commands: readonly Command[]): string {
  const lines = [
    '# fish completion for mp3c. Load it with: mp3c completion fish | source',
    '# (or save it: mp3c completion fish > ~/.config/fish/completions/mp3c.fish)',
    'complete -c mp3c -f',
    `complete -c mp3c -n __fish_use_subcommand -l help -s h -d ${quote('the usage')}`,
    `complete -c mp3c -n __fish_use_subcommand -l version -d ${quote('the version')}`,
  ];
  for (const command of commands) {
    lines.push(`complete -c mp3c -n __fish_use_subcommand -a ${command.name} -d ${quote(command.summary)}`);
    const when = `-n ${quote(`__fish_seen_subcommand_from ${command.name}`)}`;
    for (const o of optionsOf(command)) {
      const names = `${o.short ? `-s ${o.short} ` : ''}-l ${o.long}`;
      const value = !o.value ? '' : o.values === 'files' ? ' -r -F' : o.values === 'any' ? ' -x' : ` -x -a ${quote(words(o.values))}`;
      lines.push(`complete -c mp3c ${when} ${names}${value}`);
    }
    const args = argumentsOf(command);
    if (args === 'files') lines.push(`complete -c mp3c ${when} -F`);
    else if (args !== 'any') {
      const fresh = `-n ${quote(`__fish_seen_subcommand_from ${command.name}; and not __fish_seen_subcommand_from ${words(args)}`)}`;
      lines.push(`complete -c mp3c ${fresh} -a ${quote(words(args))}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The completion script for `shell`, made from the commands and their options: it never lags behind them. */
export function completionScript(shell: Shell, commands: readonly Command[]): string {
  return { bash, zsh, fish }[shell](commands);
}
