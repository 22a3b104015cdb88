import { z } from 'zod';
import { credentialCacheSchema } from './credential-cache.js';
import { parseDuration } from './duration.js';

/**
 * The config file's schema: what each key may hold. Shapes only; cross-field checks and
 * compilation (ACL, keys, files) happen in load.ts. Every object is strict: an unknown key
 * is an error naming its YAML path and the keys that are allowed there.
 */
function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown key; expected one of ${allowed}` : undefined,
  });
}

const nonEmpty = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });

/** Seconds as an integer, or a string with units (`15m`, `90d`). */
export const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const seconds = parseDuration(v);
  if (seconds === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid duration ${JSON.stringify(v)}; use seconds or e.g. "15m", "90d"`,
    });
    return z.NEVER;
  }
  return seconds;
});

/** `{group: [admins]}`; a single string is taken as a one-value list. */
const labels = z.record(
  z.string(),
  z.union([z.string().transform((s) => [s]), z.array(z.string({ error: 'label values must be strings' }))]),
  { error: 'must be a mapping of label name to a list of values' },
);

const server = strict({
  addr: nonEmpty.default(':5001'),
  path_prefix: z
    .string()
    .default('')
    .refine((p) => p === '' || (/^\/[A-Za-z0-9._~\-/]*[^/]$/.test(p) && !p.includes('//')), {
      error: 'must be empty or a path like "/regauth" (leading slash, no trailing slash)',
    }),
  certificate: nonEmpty.optional(),
  key: nonEmpty.optional(),
  trusted_proxies: z.array(nonEmpty).default([]),
});

const token = strict({
  issuer: nonEmpty,
  expiration: duration.default(900).refine((s) => s >= 60, { error: 'must be at least 60 seconds' }),
  certificate: nonEmpty.optional(),
  key: nonEmpty.optional(),
  disable_legacy_key_id: z.boolean().default(false),
  x5c: z.boolean().default(true),
  services: z.array(nonEmpty).default([]),
});

const user = strict({
  password: nonEmpty.optional(),
  labels: labels.default({}),
});

const pattern = z.string({ error: 'must be a string (a glob or a /regex/)' });

const aclRule = strict({
  match: strict({
    account: pattern.optional(),
    type: pattern.optional(),
    name: pattern.optional(),
    service: pattern.optional(),
    ip: pattern.optional(),
    labels: z.record(z.string(), pattern).optional(),
  }),
  actions: z.array(z.string({ error: 'actions must be strings' }), { error: 'must be a list of actions' }),
  comment: z.string().optional(),
});

export const configSchema = strict({
  server: server.default(server.parse({})),
  token,
  users: z
    .record(
      z.string(),
      user.nullable().transform((u) => u ?? { labels: {} }),
    )
    .optional(),
  users_file: nonEmpty.optional(),
  acl: z.array(aclRule).default([]),
  credential_cache: credentialCacheSchema.default(credentialCacheSchema.parse({})),
});

/** The config as validated, before files are read and rules compiled. */
export type RawConfig = z.output<typeof configSchema>;
export type AclRuleSchema = z.output<typeof aclRule>;

/**
 * docker_auth sections that regauth does not implement: refused by name, so a migration
 * never silently drops an authenticator or an authorizer.
 */
export const UNSUPPORTED_DOCKER_AUTH_SECTIONS = [
  'google_auth',
  'github_auth',
  'gitlab_auth',
  'mongo_auth',
  'xorm_auth',
  'acl_mongo',
  'acl_xorm',
  'casbin_authz',
  'plugin_authn',
  'plugin_authz',
  'letsencrypt',
] as const;

/** Sections the contract names that this version does not implement yet. */
export const NOT_YET_IMPLEMENTED_SECTIONS = [
  'ldap_auth',
  'oidc_auth',
  'jwt_auth',
  'ext_auth',
  'ext_authz',
] as const;
