import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The completion scripts of the built mp3c, loaded into real bash, zsh and fish, each asked what it offers
 * after a command line, as a user pressing Tab would be.
 */
const root = new URL('../../..', import.meta.url).pathname;
const run = promisify(execFile);
let work: string;
const scripts: Record<string, string> = {};

/**
 * zsh completes only in an interactive shell with a line editor: this drives one on a pseudo-terminal, loads
 * the script, types the line and a Tab, and prints each offer that compadd was given. The marks are printed
 * as two strings, so that the echo of what is typed never holds one.
 */
const ZSH_CAPTURE = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT=; autoload -Uz compinit; compinit -u -D; bindkey '^I' complete-word"
zpty -w z 'mark() { print -r -- "@@""mark@@" }; compprefuncs=(mark); comppostfuncs=(mark exit)'
zpty -w z 'compadd() { local -a hits; builtin compadd -A hits "$@"; builtin compadd "$@"; (( $#hits )) && print -rl -- "@@""hit@@"\${^hits} }'
zpty -w z "source \${(q)1}"
zpty -w z "$2"$'\\t'
integer marks=0
while zpty -r z line; do
  [[ $line == *@@mark@@* ]] && { (( ++marks == 2 )) && break; continue }
  (( marks == 1 )) && [[ $line == *@@hit@@* ]] && print -r -- \${line#*@@hit@@}
done
zpty -d z
`;

beforeAll(async () => {
  await run('pnpm', ['--filter', '@mp3converter/cli', 'build'], { cwd: root });
  work = await mkdtemp(join(tmpdir(), 'mp3c-completion-'));
  for (const shell of ['bash', 'zsh', 'fish']) {
    const { stdout } = await run(process.execPath, [join(root, 'packages/cli/dist/main.js'), 'completion', shell]);
    scripts[shell] = join(work, `mp3c.${shell}`);
    await writeFile(scripts[shell]!, stdout);
  }
  await writeFile(join(work, 'capture.zsh'), ZSH_CAPTURE);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** What each shell offers at the end of `line` (words split on spaces, the last one being completed). */
const offers: Record<string, (line: string) => Promise<string[]>> = {
  async bash(line) {
    const words = line.split(' ');
    const program = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _mp3c; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const { stdout } = await run('bash', ['-c', program, 'bash', scripts.bash!, ...words], { cwd: work });
    return stdout.split('\n').filter(Boolean);
  },
  async zsh(line) {
    const { stdout } = await run('zsh', [join(work, 'capture.zsh'), scripts.zsh!, line], { cwd: work, timeout: 20_000 });
    return [
      ...new Set(
        stdout
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean),
      ),
    ];
  },
  async fish(line) {
    const { stdout } = await run('fish', ['-c', 'source $argv[1]; complete --do-complete=$argv[2]', scripts.fish!, line], { cwd: work });
    return stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t')[0]!);
  },
};

describe.each(['bash', 'zsh', 'fish'])('when mp3c completion %s is loaded into that shell', (shell) => {
  it.each([
    ['mp3c up', ['upload']],
    ['mp3c keys ', ['create', 'list', 'revoke']],
    ['mp3c keys create --scope ', ['delete', 'read', 'upload']],
    ['mp3c keys create --sc', ['--scope']],
    ['mp3c upload --tags ', ['drop', 'keep']],
    ['mp3c completion ', ['bash', 'fish', 'zsh']],
  ])('when the line is "%s", then it offers %j', async (line, expected) => {
    expect((await offers[shell]!(line)).sort()).toEqual(expected);
  });

  it('when the line is an upload, then it offers the files there', async () => {
    await writeFile(join(work, 'talk.mp4'), '');
    expect(await offers[shell]!('mp3c upload tal')).toEqual(['talk.mp4']);
  });
});
