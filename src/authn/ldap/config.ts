import { isUtf8 } from 'node:buffer';
import { AndFilter, EqualityFilter, FilterParser, OrFilter, type Filter } from 'ldapts';
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';
import { Secret } from '../../core/secret.js';
import { parseDuration } from '../../core/duration.js';
import { durationBetween, nonEmpty, strict } from '../../core/schema.js';
import { defineSection } from '../../core/section.js';

/**
 * The `ldap_auth` section: docker_auth's keys (addr, tls, insecure_tls_skip_verify,
 * ca_certificate, bind_dn, bind_password_file, initial_bind_as_user, base, filter, labels)
 * plus a group search for directories without memberOf, timeouts and a concurrency bound.
 */

// Two messages, as before: one for a value that is no duration, one for a duration out of range.
const seconds = (fallback: number) =>
  durationBetween(1, 60, (v) =>
    parseDuration(v) === undefined
      ? `invalid duration ${JSON.stringify(v)}; use seconds or e.g. "5s"`
      : 'must be between 1 and 60 seconds',
  ).default(fallback);

const labelSource = strict({
  attribute: nonEmpty,
  parse_cn: z.boolean().default(false),
  lower_case: z.boolean().default(false),
});

/**
 * A search base: a DN, or "" for the root, as docker_auth passes it on. Left empty (YAML null) it
 * is the root too: docker_auth's reference config lists keys that way, and its unset base is "".
 */
const searchBase = z
  .string({ error: 'must be a string (a DN, or "" for the root)' })
  .nullable()
  .transform((base) => base ?? '');

const groupSearch = strict({
  base: searchBase,
  filter: nonEmpty.refine((f) => f.includes('${dn}') || f.includes('${account}'), {
    error: 'must contain ${dn} or ${account}, e.g. "(&(objectClass=groupOfNames)(member=${dn}))"',
  }),
  attribute: nonEmpty.default('cn'),
  label: nonEmpty.default('groups'),
  parse_cn: z.boolean().default(false),
  lower_case: z.boolean().default(false),
});

/** Schema of `ldap_auth`. */
export const ldapAuthSchema = strict({
  addr: nonEmpty,
  // Default as in docker_auth: always for port 636, else none.
  tls: z.enum(['none', 'always', 'starttls'], { error: 'must be one of none, always, starttls' }).optional(),
  insecure_tls_skip_verify: z.boolean().default(false),
  ca_certificate: nonEmpty.optional(),
  bind_dn: nonEmpty.optional(),
  bind_password_file: nonEmpty.optional(),
  initial_bind_as_user: z.boolean().default(false),
  base: searchBase,
  filter: nonEmpty.refine((f) => f.includes('${account}'), {
    error:
      'must contain ${account}, e.g. "(uid=${account})"; without it every account would find the same entry',
  }),
  labels: z.record(z.string(), labelSource).default({}),
  group_search: groupSearch.optional(),
  connect_timeout: seconds(5),
  operation_timeout: seconds(5),
  max_concurrency: z
    .number({ error: 'must be an integer' })
    .int({ error: 'must be an integer' })
    .min(1, { error: 'must be at least 1' })
    .max(1000, { error: 'must be at most 1000' })
    .default(10),
});

export type LdapAuthSchema = z.output<typeof ldapAuthSchema>;

/** How one label is read from an attribute of the entry (or of the groups found). */
export interface LdapLabelSource {
  readonly attribute: string;
  /** Take the CN of a DN value (`CN=devs,OU=Groups,…` → `devs`), as for memberOf. */
  readonly parseCn: boolean;
  readonly lowerCase: boolean;
}

/** One `(attribute=template)` term of the filter; the template holds `${account}`. */
export interface AccountTerm {
  readonly attribute: string;
  readonly template: string;
}

/** `ldap_auth`, validated, with its files read. */
export interface LdapConfig {
  readonly host: string;
  readonly port: number;
  readonly tls: 'none' | 'always' | 'starttls';
  readonly insecureSkipVerify: boolean;
  /** PEM of the CA(s) that sign the directory's certificate; undefined = the system store. */
  readonly caPem: string | undefined;
  readonly bindDn: string | undefined;
  readonly bindPassword: Secret | undefined;
  readonly initialBindAsUser: boolean;
  readonly base: string;
  readonly filter: string;
  /**
   * The filter's `(attribute=…${account}…)` terms. LDAP compares most account attributes without
   * regard to case, so `ALICE` and `Alice` find alice's entry; the entry's
   * value in one of these attributes then names the account (alice for ALICE), so one account has
   * one name in tokens, ACL rules, lockout and revocation.
   */
  readonly accountTerms: readonly AccountTerm[];
  readonly labels: ReadonlyMap<string, LdapLabelSource>;
  readonly groupSearch:
    | (LdapLabelSource & { readonly base: string; readonly filter: string; readonly label: string })
    | undefined;
  readonly connectTimeoutMs: number;
  readonly operationTimeoutMs: number;
  readonly maxConcurrency: number;
}

/**
 * Checks what the schema cannot (addr, bind settings) and reads bind_password_file and
 * ca_certificate. `at` resolves a path against the config file's directory; `readFile`
 * records the file for reload watching and throws a ConfigError naming the YAML path.
 */
export function compileLdapConfig(
  raw: LdapAuthSchema,
  io: { at: (path: string) => string; readFile: (yamlPath: string, path: string) => string },
): LdapConfig {
  const { host, port } = parseLdapAddress(raw.addr, raw.tls);
  const tls = raw.tls ?? (port === 636 ? 'always' : 'none');
  if (raw.initial_bind_as_user) {
    if (!raw.bind_dn?.includes('${account}')) {
      throw new ConfigError(
        'ldap_auth.bind_dn',
        'must contain ${account} when initial_bind_as_user is true, e.g. "uid=${account},ou=people,dc=example,dc=org"',
      );
    }
  } else if (raw.bind_dn !== undefined && raw.bind_password_file === undefined) {
    throw new ConfigError('ldap_auth.bind_password_file', 'required when bind_dn is set');
  } else if (raw.bind_dn === undefined && raw.bind_password_file !== undefined) {
    throw new ConfigError('ldap_auth.bind_dn', 'required when bind_password_file is set');
  }
  // docker_auth accepts insecure_tls_skip_verify and ca_certificate with tls: none (unused then)
  // and a bind_password_file with initial_bind_as_user; its configs must load unchanged.
  const filter = loadFilter('ldap_auth.filter', raw.filter);
  const groupFilter = raw.group_search
    ? loadFilter('ldap_auth.group_search.filter', raw.group_search.filter).text
    : undefined;
  const accountTerms = accountTermsOf(filter.parsed);
  if (accountTerms.length === 0) {
    throw new ConfigError(
      'ldap_auth.filter',
      'the account must appear in an equality term, (attribute=${account}), so that regauth can name the account as the entry stores it (LDAP matches without regard to case)',
    );
  }

  let bindPassword: Secret | undefined;
  // With initial_bind_as_user the user's own password is used; a password file is not read.
  if (raw.bind_password_file !== undefined && !raw.initial_bind_as_user) {
    // docker_auth trims the file; a trailing newline from `echo` must not become part of the password.
    const text = io.readFile('ldap_auth.bind_password_file', io.at(raw.bind_password_file)).trim();
    // An empty password turns the bind into an unauthenticated bind, which directories accept.
    if (text === '') throw new ConfigError('ldap_auth.bind_password_file', 'the file is empty');
    bindPassword = new Secret(text);
  }
  const caPem =
    raw.ca_certificate !== undefined && tls !== 'none'
      ? io.readFile('ldap_auth.ca_certificate', io.at(raw.ca_certificate))
      : undefined;
  if (caPem !== undefined && !caPem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError('ldap_auth.ca_certificate', 'no PEM certificate in the file');
  }

  const source = (s: { attribute: string; parse_cn: boolean; lower_case: boolean }): LdapLabelSource => ({
    attribute: s.attribute,
    parseCn: s.parse_cn,
    lowerCase: s.lower_case,
  });
  const gs = raw.group_search;
  return Object.freeze({
    host,
    port,
    tls,
    insecureSkipVerify: raw.insecure_tls_skip_verify,
    caPem,
    bindDn: raw.bind_dn,
    bindPassword,
    initialBindAsUser: raw.initial_bind_as_user,
    base: raw.base,
    filter: filter.text,
    accountTerms,
    labels: new Map(Object.entries(raw.labels).map(([name, s]) => [name, source(s)])),
    groupSearch: gs ? { ...source(gs), base: gs.base, filter: groupFilter!, label: gs.label } : undefined,
    connectTimeoutMs: raw.connect_timeout * 1000,
    operationTimeoutMs: raw.operation_timeout * 1000,
    maxConcurrency: raw.max_concurrency,
  });
}

/**
 * A filter whose `\XX` escapes of characters outside ASCII (`d\c3\a9v`) are written as the
 * characters (`dév`): RFC 4515 escapes are the octets of the value's UTF-8, as slapd's tools and
 * docker_auth's Go library read them, but ldapts' parser takes each as one UTF-16 code unit and
 * would send `dÃ©v`. A character outside ASCII is never special in a filter, so written as it is
 * it means what its escapes meant; every other escape (`\2a`, `\5c`, a byte that is not part of
 * a whole UTF-8 character) stays as written.
 */
export function utf8Escapes(filter: string): string {
  return filter.replace(/(?:\\[0-9a-fA-F]{2})+/g, (run) => {
    const bytes = Buffer.from(run.replaceAll('\\', ''), 'hex');
    let out = '';
    for (let i = 0; i < bytes.length;) {
      const n = utf8Length(bytes, i);
      if (n > 1) {
        out += bytes.subarray(i, i + n).toString('utf8');
        i += n;
      } else {
        out += run.slice(i * 3, i * 3 + 3);
        i += 1;
      }
    }
    return out;
  });
}

/**
 * The filter (after utf8Escapes), or a ConfigError when it escapes an octet outside ASCII that is
 * no part of a UTF-8 character (a binary value such as an objectSid): ldapts would send it as the
 * UTF-8 of the character U+00XX, other octets than the directory holds, so the term would match
 * nothing, silently (an exclusion by it would exclude nobody).
 */
function sendable(yamlPath: string, filter: string): string {
  const octet = /\\([89a-fA-F][0-9a-fA-F])/.exec(filter);
  if (octet) {
    throw new ConfigError(
      yamlPath,
      `the escape ${octet[0]} is an octet outside ASCII that is no part of a UTF-8 character (a binary value, such as an objectSid); regauth's LDAP client cannot send such octets as written, so the term would never match: match on another attribute`,
    );
  }
  return filter;
}

/** The length of the well-formed UTF-8 character of two or more bytes at `i`, else 1. */
function utf8Length(bytes: Buffer, i: number): number {
  const lead = bytes[i]!;
  const n =
    lead >= 0xc2 && lead <= 0xdf
      ? 2
      : lead >= 0xe0 && lead <= 0xef
        ? 3
        : lead >= 0xf0 && lead <= 0xf4
          ? 4
          : 1;
  if (n === 1 || i + n > bytes.length) return 1;
  // Well formed only: no overlong forms, surrogates or values past U+10FFFF.
  return isUtf8(bytes.subarray(i, i + n)) ? n : 1;
}

const ACCOUNT_MARK = 'regauthaccountmark7f3e';

/** The equality terms (outside any `!`) whose value holds `${account}` (ACCOUNT_MARK once parsed). */
function accountTermsOf(filter: Filter): AccountTerm[] {
  const terms: AccountTerm[] = [];
  const walk = (node: Filter): void => {
    if (node instanceof AndFilter || node instanceof OrFilter) node.filters.forEach(walk);
    else if (node instanceof EqualityFilter) {
      const value = String(node.value);
      if (value.includes(ACCOUNT_MARK)) {
        terms.push({ attribute: node.attribute, template: value.replaceAll(ACCOUNT_MARK, '${account}') });
      }
    }
  };
  walk(filter);
  return terms;
}

/**
 * A filter of the config as regauth sends it, and parsed (which refuses one that is not RFC
 * 4515): its `\XX` escapes are octets of UTF-8, which ldapts would read each as one UTF-16 unit.
 */
function loadFilter(yamlPath: string, raw: string): { readonly text: string; readonly parsed: Filter } {
  const text = sendable(yamlPath, utf8Escapes(raw));
  return { text, parsed: parseFilter(yamlPath, text) };
}

/**
 * The filter parsed with placeholders standing in for the values (`${account}` as ACCOUNT_MARK).
 * A filter that ldapts cannot parse would fail every login with 503; it is refused at load instead.
 */
function parseFilter(yamlPath: string, filter: string): Filter {
  try {
    return FilterParser.parseString(
      filter.replaceAll('${account}', ACCOUNT_MARK).replaceAll('${dn}', 'cn=x'),
    );
  } catch (err) {
    throw new ConfigError(yamlPath, `invalid LDAP filter (RFC 4515): ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** `host:port`, `host` (port 389, or 636 with tls: always), `[v6]:port`. */
export function parseLdapAddress(
  addr: string,
  tls: 'none' | 'always' | 'starttls' | undefined,
): { host: string; port: number } {
  // A name may hold `_`: Compose names services and containers so, and Go (docker_auth) dials them.
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(addr);
  const port = m?.[3] !== undefined ? Number(m[3]) : tls === 'always' ? 636 : 389;
  if (!m || port < 1 || port > 65535) {
    throw new ConfigError(
      'ldap_auth.addr',
      `invalid address ${JSON.stringify(addr)}; expected host:port, e.g. "ldap.example.org:389"`,
    );
  }
  return { host: (m[1] ?? m[2])!, port };
}

/** `ldap_auth:` the directory to authenticate against (docker_auth's `ldap_auth`). */
export const ldapSection = defineSection({
  schema: ldapAuthSchema.optional(),
  compile: (raw, ctx) => compileLdapConfig(raw, ctx),
});
