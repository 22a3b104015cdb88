import { z } from 'zod';
import { durationBetween, strict, tableEntries } from '../core/schema.js';
import { plainSection } from '../core/section.js';

/**
 * `credential_cache:` how long a successful password verification is remembered (see
 * src/authn/cache.ts).
 */
export const credentialCacheSchema = strict({
  ttl: durationBetween(
    0,
    86_400,
    (v) => `invalid duration ${JSON.stringify(v)}; use seconds or e.g. "5m" (0 disables, at most 1 day)`,
  ).default(300),
  max_entries: tableEntries.default(10_000),
});

export type CredentialCacheConfig = z.output<typeof credentialCacheSchema>;

/** `credential_cache:` (all defaults when absent). */
export const credentialCacheSection = plainSection(
  credentialCacheSchema.default(credentialCacheSchema.parse({})),
);
