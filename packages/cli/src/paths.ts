import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where mp3c keeps its login and its unfinished uploads: `$XDG_CONFIG_HOME/mp3c`, else `~/.config/mp3c`
 * (the XDG base directory rule; a relative XDG_CONFIG_HOME is ignored, as the rule says).
 */
export function configDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg?.startsWith('/') ? xdg : join(env.HOME || homedir(), '.config');
  return join(base, 'mp3c');
}

/** The local start command's gateway (scripts/start.sh, GATEWAY_PORT 8080). */
export const DEFAULT_GATEWAY = 'http://127.0.0.1:8080';
