import { z } from 'zod';
import { foldAccountName } from './account-name.js';
import { parseDuration } from './duration.js';

/**
 * Schema building blocks shared by every section's schema file (schema.ts and the per-backend
 * files it imports), kept apart so those files do not import schema.ts back.
 */

/**
 * A strict object: an unknown key is an error naming its YAML path and the keys that are
 * allowed there.
 */
export function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown key; expected one of ${allowed}` : undefined,
  });
}

/**
 * An optional section whose absence or emptiness (`metrics:` with only comments under it, which
 * YAML reads as null) means all its defaults. Written as nullish rather than a preprocess step so
 * the JSON Schema (src/config/json-schema.ts) says the same: optional, an object or null.
 */
export function section<T extends z.ZodType>(schema: T) {
  return schema.nullish().transform((v): z.output<T> => v ?? (schema.parse({}) as z.output<T>));
}

export const nonEmpty = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });

/** One string or a list of strings, read as a list (`group: devs` is `group: [devs]`). */
export const stringList = z.union([z.string().transform((s) => [s]), z.array(z.string())], {
  error: 'must be a string or a list of strings',
});

/** Labels as written: a mapping of label name to its values ({@link stringList}). */
export const labelMap = z.record(z.string(), stringList, {
  error: 'must be a mapping of label name to a list of values',
});

/**
 * The longest duration any key takes, in seconds: 100 years. Longer ones would put times in
 * milliseconds (token expiry, Redis expiry, dates shown on the registry page) past what they can
 * hold, and fail requests instead of the config.
 */
export const MAX_DURATION = 100 * 365 * 86_400;

/**
 * A duration, seconds as an integer or a string with units (`15m`, `90d`), that must lie
 * between `min` and `max` seconds (inclusive), and never beyond MAX_DURATION. Anything else (not a
 * duration, or out of range) is one issue whose text `message` builds from the value as written,
 * so each section can say what it expects there; a number past MAX_DURATION where `max` allows
 * more is told so.
 */
export function durationBetween(min: number, max: number, message: (input: number | string) => string) {
  const limit = Math.min(max, MAX_DURATION);
  return (
    z
      .union([z.number(), z.string()], { error: 'must be a number of seconds or a duration such as "15m"' })
      .transform((v, ctx) => {
        const seconds = parseDuration(v);
        if (seconds === undefined || seconds < min || seconds > limit) {
          const tooLong = max > MAX_DURATION && (typeof v === 'number' ? v : (seconds ?? 0)) > MAX_DURATION;
          ctx.addIssue({
            code: 'custom',
            message: tooLong ? `must be at most 100 years (${MAX_DURATION} seconds)` : message(v),
          });
          return z.NEVER;
        }
        return seconds;
      })
      // For the JSON Schema (src/config/json-schema.ts): the range of a number of seconds, and the
      // syntax of a string (the range of one with units is the loader's alone).
      .meta({
        anyOf: [
          { type: 'integer', minimum: min, maximum: limit },
          { type: 'string', pattern: DURATION_TEXT },
        ],
      })
  );
}

/** The text of a duration parseDuration reads: seconds, or numbers with units (`1h30m`). */
const DURATION_TEXT = '^\\s*(?:\\d+|(?:\\d+[smhdw])+)\\s*$';

const invalidDuration = (v: number | string) =>
  `invalid duration ${JSON.stringify(v)}; use seconds or e.g. "15m", "90d"`;

/** Seconds as an integer, or a string with units (`15m`, `90d`). */
export const duration = durationBetween(0, Infinity, invalidDuration);

/**
 * A {@link duration} between `min` and `max` seconds: one out of that range is told `range`
 * ("must be at least 60 seconds"), one that is no duration is told so.
 */
export function durationIn(min: number, max: number, range: string) {
  return durationBetween(min, max, (v) => (parseDuration(v) === undefined ? invalidDuration(v) : range));
}

/**
 * A whole number of at least `min` (a count, a limit). The minimum is checked first and alone, so
 * `-1e308` is told only that it is too small; anything else that is not a whole number (`2.5`,
 * `.inf`, `"5"`) is told it must be an integer.
 */
export function integerFrom(min: number) {
  return z
    .number({ error: 'must be an integer' })
    .min(min, { error: `must be at least ${min}`, abort: true })
    .int({ error: 'must be an integer' });
}

/**
 * The most entries a table sized in the config (`lockout.max_entries`,
 * `credential_cache.max_entries`) may hold. lru-cache allocates its index for every entry at
 * start, about 44 bytes each with expiry (the lockout has four such tables), and throws a RangeError past
 * what an array can hold.
 */
export const MAX_TABLE_ENTRIES = 10_000_000;

/**
 * How many entries an in-memory table holds: a whole number from 1 to MAX_TABLE_ENTRIES. The
 * maximum is checked first and alone, so `1e20` is told only that it is too large.
 */
export const tableEntries = z
  .number({ error: 'must be a number' })
  .max(MAX_TABLE_ENTRIES, { error: `must be at most ${MAX_TABLE_ENTRIES}`, abort: true })
  .int({ error: 'must be an integer' })
  .min(1, { error: 'must be at least 1' });

/** RFC 3339 with an explicit zone, so a revocation never depends on the server's time zone. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * Whether an RFC 3339 text's date and times exist: Date.parse rolls a day past the month's end
 * over (`2026-02-30` is 2 March) and reads `24:00` as the next day, where Go's time.Parse refuses
 * them. Its zone's offset is checked as a time of day too.
 */
function onTheCalendar(text: string): boolean {
  const [year, month, day, hour, minute, second] = text.slice(0, 19).split(/[-T:]/i).map(Number) as number[];
  const at = new Date(Date.UTC(2000, month! - 1, day!, hour, minute, second));
  at.setUTCFullYear(year!, month! - 1, day!);
  const offset = /([+-])(\d{2}):(\d{2})$/.exec(text);
  return (
    at.getUTCFullYear() === year &&
    at.getUTCMonth() === month! - 1 &&
    at.getUTCDate() === day &&
    at.getUTCHours() === hour &&
    at.getUTCMinutes() === minute &&
    at.getUTCSeconds() === second &&
    (offset === null || (Number(offset[2]) <= 23 && Number(offset[3]) <= 59))
  );
}

/**
 * A point in time written as RFC 3339 with a zone (`"2026-11-22T10:00:00Z"`), as Unix seconds.
 * Anything else, a date without a time or a time without a zone included, is an issue at its
 * YAML path. Used by every revocation time (`token.refresh.revoke_before`, `oidc_auth.not_before`).
 * A fraction of a second rounds up: issue times are whole seconds, so whatever was issued in that
 * second, possibly before the instant, is revoked too.
 */
export const instant = z
  .string({ error: 'must be a time like "2026-11-22T10:00:00Z"' })
  .transform((v, ctx) => {
    const ms = RFC3339.test(v) ? Date.parse(v) : NaN;
    if (RFC3339.test(v) && !onTheCalendar(v)) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid time ${JSON.stringify(v)}: no such day or time of day; use RFC 3339 with a zone, e.g. "2026-11-22T10:00:00Z"`,
      });
      return z.NEVER;
    }
    if (Number.isNaN(ms)) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid time ${JSON.stringify(v)}; use RFC 3339 with a zone, e.g. "2026-11-22T10:00:00Z"`,
      });
      return z.NEVER;
    }
    // Date.parse keeps milliseconds only: a fraction of any length that is not all zeros rounds up.
    return /\.\d*[1-9]/.test(v) ? Math.floor(ms / 1000) + 1 : Math.ceil(ms / 1000);
  });

/**
 * The key revocationMap gives the entry written `"*"` (every account) when `everyAccount` is set:
 * no account name folds to it (`＊`, U+FF0A, is an account name, and folds to `*`), and no other
 * key is kept under it.
 */
export const EVERY_ACCOUNT = '\u0000*';

/**
 * A revocation list (`token.refresh.revoke_before`, `oidc_auth.not_before`) keyed by account names
 * folded as the lockout folds them (foldAccountName): an entry written `mallory@example.test`
 * revokes the `Mallory@Example.test` a provider returns. Two entries for one folded name: the
 * later time. Look names up folded as well. With `everyAccount`, the entry written `"*"` is kept
 * under EVERY_ACCOUNT.
 */
export function revocationMap(
  entries: Readonly<Record<string, number>>,
  options: { readonly everyAccount?: boolean } = {},
): ReadonlyMap<string, number> {
  const map = new Map<string, number>();
  for (const [account, time] of Object.entries(entries)) {
    const key = options.everyAccount && account === '*' ? EVERY_ACCOUNT : foldAccountName(account);
    // A key written to fold to EVERY_ACCOUNT (`"\0*"`) names no account (none holds a NUL).
    if (key === EVERY_ACCOUNT && account !== '*') continue;
    map.set(key, Math.max(time, map.get(key) ?? time));
  }
  return map;
}
