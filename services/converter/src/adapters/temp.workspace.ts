import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@mp3converter/shared/logger';
import type { Workspace } from '../domain/ports.js';

const PREFIX = 'mp3c-job-';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Job folders under TMP_DIR named after the process that made them, so leftovers of a killed worker can be swept. */
export class TempWorkspace implements Workspace {
  constructor(private readonly root: string) {}

  async create(jobId: string): Promise<{ dir: string; dispose: () => Promise<void> }> {
    const dir = await mkdtemp(join(this.root, `${PREFIX}${process.pid}-${jobId}-`));
    return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
  }

  /** Removes folders left by workers that no longer run (killed before they could clean up). */
  async sweep(logger: Logger): Promise<void> {
    for (const name of await readdir(this.root).catch(() => [] as string[])) {
      if (!name.startsWith(PREFIX)) continue;
      const pid = Number(name.slice(PREFIX.length).split('-')[0]);
      if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) {
        await rm(join(this.root, name), { recursive: true, force: true });
        logger.info({ dir: name }, 'removed a dead worker’s temporary folder');
      }
    }
  }
}
