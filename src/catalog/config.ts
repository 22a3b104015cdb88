import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { durationBetween, nonEmpty, strict } from '../core/schema.js';
import { defineSection } from '../core/section.js';

/** What a challenge header can carry as it is: printable ASCII. */
const HEADER_TEXT = /^[\x20-\x7e]+$/;

/**
 * `catalog:` the ACL-filtered `GET /v2/_catalog` (docs/catalog.md). Absent: regauth does not
 * answer the catalog (the registry does, to `registry:catalog:*` holders only).
 */
export const catalogSchema = strict({
  /** Where regauth reaches the registry directly (not through HAProxy). */
  registry_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  /** The token endpoint as clients reach it: the registry's `auth.token.realm`. */
  realm: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).regex(HEADER_TEXT, {
    error: 'must be printable ASCII (it goes into the WWW-Authenticate header); percent-encode the rest',
  }),
  /** The registry's `auth.token.service`; default `token.services[0]`. */
  registry_service: nonEmpty.optional(),
  /** The `service` of the catalog's challenge: one the registry does not accept. */
  service: nonEmpty
    .regex(HEADER_TEXT, { error: 'must be printable ASCII (it goes into the WWW-Authenticate header)' })
    .default('regauth-catalog'),
  /** The most repositories one page holds (the registry's `catalog.maxentries`). */
  page_size: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be an integer' })
    .min(1, { error: 'must be at least 1' })
    .max(10_000, { error: 'must be at most 10000' })
    .default(1000),
  /** How long the registry's full catalog is kept, shared by every caller. */
  cache_ttl: durationBetween(
    0,
    3600,
    (v) => `invalid duration ${JSON.stringify(v)}; use seconds or e.g. "30s" (0 to 1 hour)`,
  ).default(10),
  /**
   * How long a registry page session lasts after an `oidc_auth` sign-in (never longer than
   * `oidc_auth.app_password_expiration`).
   */
  ui_session: durationBetween(
    60,
    86_400,
    (v) => `invalid duration ${JSON.stringify(v)}; use seconds or e.g. "1h" (1 minute to 24 hours)`,
  ).default(3600),
  /** How long to wait for the registry, seconds. */
  timeout: durationBetween(
    1,
    60,
    (v) => `invalid duration ${JSON.stringify(v)}; use seconds between 1 and 60`,
  ).default(5),
});

export type CatalogRaw = z.output<typeof catalogSchema>;

/** `catalog:` with its defaults resolved and its cross-field checks passed. */
export interface CatalogConfig {
  /** Without a trailing slash. */
  readonly registryUrl: string;
  readonly realm: string;
  readonly registryService: string;
  readonly service: string;
  readonly pageSize: number;
  /** Seconds. */
  readonly cacheTtl: number;
  /** Seconds: how long a registry page session lasts (`ui_session`). */
  readonly uiSession: number;
  /** Seconds. */
  readonly timeout: number;
}

/** Resolves `registry_service` and checks that the catalog's service can never reach the registry. */
export function loadCatalog(raw: CatalogRaw, tokenServices: readonly string[]): CatalogConfig {
  // fetch sends no URL with credentials: every read would fail, and its error, logged as the
  // reason of each `catalog unavailable`, quotes the URL. Never a secret in the config either.
  const url = new URL(raw.registry_url);
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(
      'catalog.registry_url',
      'must not hold a user or password; regauth reads the catalog with a token it signs itself',
    );
  }
  const registryService = raw.registry_service ?? tokenServices[0];
  if (registryService === undefined) {
    throw new ConfigError(
      'catalog.registry_service',
      "required when token.services is empty: the registry's auth.token.service",
    );
  }
  // The registry page asks the token endpoint for tokens to this service, which it refuses for
  // a service outside a non-empty token.services: every repository page answered 400.
  if (tokenServices.length > 0 && !tokenServices.includes(registryService)) {
    throw new ConfigError(
      'catalog.registry_service',
      `${JSON.stringify(registryService)} is not in token.services (${tokenServices.map((s) => JSON.stringify(s)).join(', ')}); the token endpoint refuses tokens for it`,
    );
  }
  // A catalog token must never be one the registry accepts (docs/catalog.md "No new hole").
  if (raw.service === registryService || tokenServices.includes(raw.service)) {
    throw new ConfigError(
      'catalog.service',
      `must differ from the registry's service (${JSON.stringify(registryService)}) and from every token.services entry`,
    );
  }
  return {
    registryUrl: raw.registry_url.replace(/\/+$/, ''),
    realm: raw.realm,
    registryService,
    service: raw.service,
    pageSize: raw.page_size,
    cacheTtl: raw.cache_ttl,
    uiSession: raw.ui_session,
    timeout: raw.timeout,
  };
}

/** `catalog:` the ACL-filtered `/v2/_catalog` and the `/ui/` page; absent = not served. */
export const catalogSection = defineSection({
  schema: catalogSchema.optional(),
  compile: (raw, ctx) => loadCatalog(raw, ctx.tokenServices),
});
