/**
 * What regauth does with docker_auth's config keys it does not take as they are: each is refused
 * by name with what to do instead, so a migrated config never silently loses a setting.
 */

const SECTION = 'docker_auth section not supported by regauth; ';
const KEY = 'docker_auth key not supported by regauth; ';

/** docker_auth sections regauth does not implement, and what to use instead. */
export const DOCKER_AUTH_SECTIONS: Readonly<Record<string, string>> = {
  google_auth: `${SECTION}use oidc_auth with Google as the OpenID Connect provider (issuer https://accounts.google.com)`,
  github_auth: `${SECTION}use oidc_auth with an OpenID Connect provider that signs in with GitHub, or jwt_auth for GitHub Actions ID tokens`,
  gitlab_auth: `${SECTION}use oidc_auth with GitLab as the OpenID Connect provider, or jwt_auth for GitLab CI ID tokens`,
  mongo_auth: `${SECTION}use ext_auth with a command that looks the account up in MongoDB`,
  xorm_auth: `${SECTION}use ext_auth with a command that looks the account up in the database`,
  acl_mongo: `${SECTION}put the rules under acl:, or decide in an ext_authz command`,
  acl_xorm: `${SECTION}put the rules under acl:, or decide in an ext_authz command`,
  casbin_authz: `${SECTION}put the rules under acl:, or call Casbin from an ext_authz command`,
  plugin_authn: `${SECTION}regauth loads no Go plugins: run it as an ext_auth command`,
  plugin_authz: `${SECTION}regauth loads no Go plugins: run it as an ext_authz command`,
  letsencrypt: `${SECTION}terminate TLS in HAProxy or give server.certificate and server.key`,
};

/** docker_auth's token databases, of which regauth needs none. */
const NO_TOKEN_DB = `${KEY}regauth stores no tokens: app passwords are signed with oidc_auth.secret_file and need no database; remove it`;

/** docker_auth keys (`section.key`) regauth does not implement, and what to do instead. */
export const DOCKER_AUTH_KEYS: Readonly<Record<string, string>> = {
  'server.real_ip_header': `${KEY}use server.trusted_proxies (X-Forwarded-For is read from those peers only)`,
  'server.real_ip_pos': `${KEY}use server.trusted_proxies (the client is the right-most X-Forwarded-For address that is not a trusted proxy)`,
  'server.net': `${KEY}it listens on TCP only: give server.addr as [host]:port`,
  'server.hsts': `${KEY}terminate TLS at HAProxy and set Strict-Transport-Security there`,
  'server.tls_min_version': `${KEY}terminate TLS at HAProxy or use the defaults (Node's, TLS 1.2 and later)`,
  'server.tls_curve_preferences': `${KEY}terminate TLS at HAProxy or use the defaults (Node's)`,
  'server.tls_cipher_suites': `${KEY}terminate TLS at HAProxy or use the defaults (Node's)`,
  'server.letsencrypt': `${SECTION}terminate TLS in HAProxy or give server.certificate and server.key`,
  'oidc_auth.level_token_db': NO_TOKEN_DB,
  'oidc_auth.http_timeout': `${KEY}use oidc_auth.timeout (seconds, or e.g. "10s")`,
  'oidc_auth.labels_claims': `${KEY}write it label_claims, as docker_auth's reference config spells it`,
  'oidc_auth.gcs_token_db': NO_TOKEN_DB,
  'oidc_auth.redis_token_db': NO_TOKEN_DB,
};

/**
 * Sections where an empty key (`bind_dn:`, YAML null) means unset, as in docker_auth, whose
 * reference config lists optional keys that way.
 */
export const NULL_MEANS_UNSET = [
  'server',
  'token',
  'ldap_auth',
  'oidc_auth',
  'ext_auth',
  'ext_authz',
] as const;

/**
 * Keys where an empty string means unset, as docker_auth reads them (`if c.BindDN != ""`,
 * `if c.CACertificate != ""`, an empty `tls` is the default, `if c.Server.CertFile != "" ||
 * c.Server.KeyFile != ""`, the same for `c.Token`). Everywhere else an empty string is a value (`ldap_auth.base: ""` is
 * the root), and an error where a value is required.
 */
export const EMPTY_MEANS_UNSET: Readonly<Record<string, readonly string[]>> = {
  server: ['certificate', 'key'],
  token: ['certificate', 'key'],
  ldap_auth: ['tls', 'bind_dn', 'bind_password_file', 'ca_certificate'],
};

/** Keys where YAML null is kept for the schema, which reads it as docker_auth does (`base:` is the root), or as regauth's own keys do. */
export const NULL_KEPT: Readonly<Record<string, readonly string[]>> = {
  ldap_auth: ['base'],
  // regauth's own keys, whose unset value would mean more than nothing written: `refresh:` with
  // nothing under it turns refresh tokens on with their defaults; `services:` with every entry
  // commented out is refused (unset, every service would be served).
  token: ['refresh', 'services'],
};

/**
 * The keys of `section`'s mapping without those left empty: YAML null under a NULL_MEANS_UNSET
 * section (except where NULL_KEPT keeps it), and an empty string where EMPTY_MEANS_UNSET says
 * docker_auth reads it as unset.
 */
export function withoutUnset(section: string, inside: Record<string, unknown>): Record<string, unknown> {
  const empty = EMPTY_MEANS_UNSET[section] ?? [];
  const kept = NULL_KEPT[section] ?? [];
  return Object.fromEntries(
    Object.entries(inside).filter(
      ([k, v]) => (v !== null || kept.includes(k)) && !(v === '' && empty.includes(k)),
    ),
  );
}

/** docker_auth's OIDC callback path; regauth serves the callback at `/oidc/callback`. */
export function dockerAuthCallback(redirectUrl: unknown): string | undefined {
  if (typeof redirectUrl !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(redirectUrl);
  } catch {
    return undefined;
  }
  if (!url.pathname.endsWith('/oidc_auth')) return undefined;
  url.pathname = `${url.pathname.slice(0, -'/oidc_auth'.length)}/oidc/callback`;
  return `docker_auth callback path; docker_auth's callback path /oidc_auth is /oidc/callback in regauth: set ${url.href} and register it at the provider`;
}

const SEARCH_BASE_REQUIRED =
  'required: the DN to search under (e.g. "dc=example,dc=org"), or base: "" to search from the root';

/** Extra words for a required key: one a docker_auth config does not have, or one with a choice to make. */
export const REQUIRED_HINTS: Readonly<Record<string, string>> = {
  'ldap_auth.base': SEARCH_BASE_REQUIRED,
  'ldap_auth.group_search.base': SEARCH_BASE_REQUIRED,
  'oidc_auth.secret_file':
    "required (docker_auth has no such key): app passwords are signed with it instead of being stored (docker_auth's level_token_db); put 32 or more random characters in a file, e.g. `openssl rand -base64 48 > oidc-secret`",
};
