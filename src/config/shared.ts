import { z } from 'zod';
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

export const nonEmpty = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });

/**
 * A duration, seconds as an integer or a string with units (`15m`, `90d`), that must lie
 * between `min` and `max` seconds (inclusive). Anything else (not a duration, or out of range)
 * is one issue whose text `message` builds from the value as written, so each section can say
 * what it expects there.
 */
export function durationBetween(min: number, max: number, message: (input: number | string) => string) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const seconds = parseDuration(v);
    if (seconds === undefined || seconds < min || seconds > max) {
      ctx.addIssue({ code: 'custom', message: message(v) });
      return z.NEVER;
    }
    return seconds;
  });
}

/** Seconds as an integer, or a string with units (`15m`, `90d`). */
export const duration = durationBetween(
  0,
  Infinity,
  (v) => `invalid duration ${JSON.stringify(v)}; use seconds or e.g. "15m", "90d"`,
);
