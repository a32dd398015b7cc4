import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface Login {
  /** The account of a password login; null for an API key (`mp3c login --api-key`). */
  email: string | null;
  /** A login token (a JWT, 24 h) or an API key (`mp3c_…`): sent alike, as a bearer. */
  token: string;
  /** An API key's public id. */
  key_id?: string;
  /** ISO time of the login. */
  saved_at: string;
}

interface StoreFile {
  /** The gateway of the latest login: the default for the next command. */
  current: string | null;
  logins: Record<string, Login>;
}

const empty = (): StoreFile => ({ current: null, logins: {} });

/**
 * The tokens (or API keys) of the gateways logged into, in `<config dir>/login.json`: the folder 0700, the file 0600,
 * replaced whole by a rename so that a crash or a second mp3c never leaves half a file. A token is a
 * password for a day: nobody but its owner may read it.
 */
export class TokenStore {
  readonly path: string;

  constructor(readonly dir: string) {
    this.path = join(dir, 'login.json');
  }

  async get(gateway: string): Promise<Login | undefined> {
    return (await this.read()).logins[gateway];
  }

  /** The gateway of the latest login, if any. */
  async current(): Promise<string | undefined> {
    return (await this.read()).current ?? undefined;
  }

  async save(gateway: string, login: Login): Promise<void> {
    const data = await this.read();
    data.logins[gateway] = login;
    data.current = gateway;
    await this.write(data);
  }

  async remove(gateway: string): Promise<boolean> {
    const data = await this.read();
    if (!data.logins[gateway]) return false;
    delete data.logins[gateway];
    if (data.current === gateway) data.current = null;
    await this.write(data);
    return true;
  }

  /** The config folder, created 0700 (and made 0700 if it was not). */
  async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
  }

  private async read(): Promise<StoreFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty();
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as Partial<StoreFile>;
      return { current: parsed.current ?? null, logins: parsed.logins ?? {} };
    } catch {
      // A file edited by hand into nonsense: treated as no login, rewritten at the next one.
      return empty();
    }
  }

  private async write(data: StoreFile): Promise<void> {
    await this.ensureDir();
    const tmp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    // Created 0600 from the start (the umask can only take rights away): the token is never readable by others.
    const file = await open(tmp, 'wx', 0o600);
    try {
      await file.writeFile(`${JSON.stringify(data, null, 2)}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}
