/** How long a listing's read is kept at most, whatever its version says (see JobListCache). */
export const LIST_CACHE_MAX_AGE_MS = 60_000;

/** One key per owner and read, whatever characters either holds. */
const idOf = (owner: string, key: string) => JSON.stringify([owner, key]);

interface Entry {
  version: string;
  at: number;
  bytes: number;
  value: unknown;
}

/** Kept values are shared by every listing that reads them: frozen, so that none can change them for the next. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * What listings of an owner's jobs read, kept in the process while the owner's list stays as it was: every
 * write that can change a page kept here gives the owner's list a new version in the store (JobStore), and an
 * entry answers only for the version it was read under. So a listing costs one read of the version while
 * nothing changed, instead of a page of documents (on FerretDB, which decodes every document it reads, that is
 * most of a listing's cost).
 *
 * Entries also end after `maxAgeMs`: a write made by a version of the services that gave no new version (during
 * a rolling update), or whose new version could not be written, shows by then. What it holds is bounded by its
 * size, `maxBytes`, each entry weighed as its JSON (a page of split jobs with many long chapter titles weighs
 * more than one of plain ones); the least recently used entries go first, and one that alone weighs more than
 * an eighth of it is not kept.
 */
export class JobListCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxAgeMs = LIST_CACHE_MAX_AGE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** What `key` read for the owner under `version`, unless it was read under another or is too old. */
  get(owner: string, key: string, version: string): unknown {
    const id = idOf(owner, key);
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.drop(id, entry);
    if (entry.version !== version || this.now() - entry.at > this.maxAgeMs) return undefined;
    this.keep(id, entry);
    return entry.value;
  }

  /** Keeps `value` (frozen from now on) for the owner's `key` under `version`. */
  set(owner: string, key: string, version: string, value: unknown): void {
    const id = idOf(owner, key);
    const bytes = id.length + version.length + (JSON.stringify(value)?.length ?? 0);
    const old = this.entries.get(id);
    if (old) this.drop(id, old);
    if (bytes > this.maxBytes / 8) return;
    this.keep(id, { version, at: this.now(), bytes, value: deepFreeze(value) });
    for (const [oldestId, oldest] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(oldestId, oldest);
    }
  }

  /** Entries, and their weight in bytes. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  private keep(id: string, entry: Entry): void {
    this.entries.set(id, entry);
    this.bytes += entry.bytes;
  }

  private drop(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.bytes -= entry.bytes;
  }
}
