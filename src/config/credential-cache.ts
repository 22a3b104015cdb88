import { z } from 'zod';
import { parseDuration } from './duration.js';

const KEYS = 'ttl, max_entries';

/**
 * `credential_cache:` how long a successful password verification is remembered (see
 * src/authn/cache.ts). Its own file so backends added in parallel do not touch it.
 */
export const credentialCacheSchema = z.strictObject(
  {
    ttl: z
      .union([z.number(), z.string()])
      .default(300)
      .transform((v, ctx) => {
        const seconds = parseDuration(v);
        if (seconds === undefined || seconds > 86_400) {
          ctx.addIssue({
            code: 'custom',
            message: `invalid duration ${JSON.stringify(v)}; use seconds or e.g. "5m" (0 disables, at most 1 day)`,
          });
          return z.NEVER;
        }
        return seconds;
      }),
    max_entries: z
      .number({ error: 'must be a number' })
      .int({ error: 'must be an integer' })
      .min(1, { error: 'must be at least 1' })
      .default(10_000),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown key; expected one of ${KEYS}` : undefined,
  },
);

export type CredentialCacheConfig = z.output<typeof credentialCacheSchema>;
