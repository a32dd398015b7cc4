/**
 * The part of MongoDB's query and update language the job store speaks, with its meaning written out, so that
 * the in-memory store applies the very filters and updates the MongoDB store sends (see transitions.ts).
 * Free of drivers: ids are 24-character lowercase hex strings here, which sort as the ids themselves do.
 */

/** A value compared as MongoDB compares it: dates by time, `null` also matching a field that is absent. */
export type Scalar = string | number | boolean | Date | null;

export interface Condition {
  $in?: readonly Scalar[];
  $ne?: Scalar;
  $lt?: Scalar;
  $gt?: Scalar;
  $exists?: boolean;
}

/**
 * Fields equal to a value, or meeting a condition; `$or` of such filters. All must hold. A dotted path
 * (`mp3s.fid`) reaches into a field's subdocuments, and into each element of an array on the way: it holds
 * when it holds for any value found there, as in MongoDB.
 */
export type Filter<T> = { [K in keyof T]?: T[K] | null | Condition } & { $or?: readonly Filter<T>[] } & {
  [path: `${string}.${string}`]: Scalar | Condition | undefined;
};

export interface Update<T> {
  $set?: Partial<T>;
  $inc?: { [K in keyof T]?: number };
}

export type Sort<T> = { [K in keyof T]?: 1 | -1 };

const isCondition = (value: unknown): value is Condition =>
  typeof value === 'object' && value !== null && !(value instanceof Date) && Object.keys(value).every((k) => k.startsWith('$'));

const comparable = (value: unknown): unknown => (value instanceof Date ? value.getTime() : value);

const equal = (a: unknown, b: unknown): boolean => {
  if (b === null) return a === null || a === undefined;
  return comparable(a) === comparable(b);
};

/** MongoDB compares only values of one type with $lt and $gt: a missing field or null never matches. */
const compare = (a: unknown, b: unknown): number | undefined => {
  const x = comparable(a);
  const y = comparable(b);
  if (x === null || x === undefined || y === null || typeof x !== typeof y) return undefined;
  return (x as number | string) < (y as number | string) ? -1 : (x as number | string) > (y as number | string) ? 1 : 0;
};

function meets(value: unknown, condition: Condition): boolean {
  if (condition.$in !== undefined && !condition.$in.some((v) => equal(value, v))) return false;
  if ('$ne' in condition && equal(value, condition.$ne ?? null)) return false;
  if (condition.$lt !== undefined && compare(value, condition.$lt) !== -1) return false;
  if (condition.$gt !== undefined && compare(value, condition.$gt) !== 1) return false;
  if (condition.$exists !== undefined && (value !== undefined) !== condition.$exists) return false;
  return true;
}

export function matches<T extends object>(doc: T, filter: Filter<T>): boolean {
  for (const [key, expected] of Object.entries(filter)) {
    if (key === '$or') {
      if (!(expected as Filter<T>[]).some((f) => matches(doc, f))) return false;
      continue;
    }
    const holds = (value: unknown) => (isCondition(expected) ? meets(value, expected) : equal(value, expected));
    if (!key.includes('.')) {
      if (!holds((doc as unknown as Record<string, unknown>)[key])) return false;
      continue;
    }
    const found = valuesAt(doc, key.split('.'));
    if (found.length === 0 ? !holds(undefined) : !found.some(holds)) return false;
  }
  return true;
}

/** The values a dotted path leads to: through subdocuments, and through each element of an array. */
function valuesAt(value: unknown, path: readonly string[]): unknown[] {
  if (Array.isArray(value)) return value.flatMap((element) => valuesAt(element, path));
  if (path.length === 0) return [value];
  if (typeof value !== 'object' || value === null || value instanceof Date) return [];
  const [head, ...rest] = path;
  const next = (value as Record<string, unknown>)[head!];
  return next === undefined ? [] : valuesAt(next, rest);
}

/** The document after `update`; `doc` itself is left as it was. */
export function applyUpdate<T extends object>(doc: T, update: Update<T>): T {
  const next: Record<string, unknown> = { ...(doc as unknown as Record<string, unknown>), ...update.$set };
  for (const [key, by] of Object.entries(update.$inc ?? {})) next[key] = ((next[key] as number | undefined) ?? 0) + (by as number);
  return next as unknown as T;
}

/** Sorts as MongoDB does for the fields given, in order; absent and null values first when ascending. */
export function compareBy<T extends object>(sort: Sort<T>): (a: T, b: T) => number {
  const keys = Object.entries(sort) as [string, 1 | -1][];
  return (a, b) => {
    for (const [key, direction] of keys) {
      const x = comparable((a as unknown as Record<string, unknown>)[key]) ?? null;
      const y = comparable((b as unknown as Record<string, unknown>)[key]) ?? null;
      if (x === y) continue;
      if (x === null) return -direction;
      if (y === null) return direction;
      return ((x as number | string) < (y as number | string) ? -1 : 1) * direction;
    }
    return 0;
  };
}
