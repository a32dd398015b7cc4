import { describe, expect, it } from 'vitest';
import { COMMANDS, run } from './cli.js';
import { SHELLS, completionScript } from './completion.js';
import { fakeIo } from './testing.fake.js';

describe('shell completion', () => {
  it.each(SHELLS)('when the %s script is made, then it names every command and every option of each', (shell) => {
    const script = completionScript(shell, COMMANDS);
    for (const command of COMMANDS) {
      expect(script, command.name).toContain(command.name);
      for (const option of Object.keys(command.options)) expect(script, `${command.name} --${option}`).toContain(option);
    }
    expect(script).toContain('upload read delete');
  });

  it('when mp3c completion is run, then the script goes to stdout; an unknown shell is a usage error', async () => {
    const io = fakeIo();
    expect(await run(['completion', 'fish'], io)).toBe(0);
    expect(io.stdout.text).toBe(completionScript('fish', COMMANDS));
    for (const argv of [['completion'], ['completion', 'powershell'], ['completion', 'bash', 'zsh']]) {
      const bad = fakeIo();
      expect(await run(argv, bad)).toBe(2);
      expect(bad.stdout.text).toBe('');
    }
  });
});
