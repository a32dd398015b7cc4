/** How long a listing's read is kept at most, whatever its version says (see JobListCache). */
export const LIST_CACHE_MAX_AGE_MS = 60_000;

/** One key per owner and read, whatever characters either holds. */
const idOf = (owner: string, key: string) => JSON.stringify([owner, key]);

interface Entry {
  version: string;
  at: number;
  value: unknown;
}

/**
 * What listings of an owner's jobs read, kept in the process while the owner's list stays as it was: every
 * write that can change a page kept here gives the owner's list a new version in the store (JobStore), and an
 * entry answers only for the version it was read under. So a listing costs one read of the version while
 * nothing changed, instead of a page of documents (on FerretDB, which decodes every document it reads, that is
 * most of a listing's cost).
 *
 * Entries also end after `maxAgeMs`: a write made by a version of the services that gave no new version (during
 * a rolling update), or whose new version could not be written, shows by then. The least recently used entry
 * goes first once there are `maxEntries`.
 */
export class JobListCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs = LIST_CACHE_MAX_AGE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** What `key` read for the owner under `version`, unless it was read under another or is too old. */
  get(owner: string, key: string, version: string): unknown {
    const id = idOf(owner, key);
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    if (entry.version !== version || this.now() - entry.at > this.maxAgeMs) return undefined;
    this.entries.set(id, entry);
    return entry.value;
  }

  set(owner: string, key: string, version: string, value: unknown): void {
    if (this.maxEntries <= 0) return;
    const id = idOf(owner, key);
    this.entries.delete(id);
    this.entries.set(id, { version, at: this.now(), value });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
