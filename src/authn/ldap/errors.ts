import { ResultCodeError } from 'ldapts';
import { BackendUnavailableError } from '../../core/errors.js';

/** The backend's name, in its config section and in every error it raises. */
export const NAME = 'ldap_auth';

export function ambiguous(cause?: unknown): BackendUnavailableError {
  return new BackendUnavailableError(
    NAME,
    'the filter matched more than one entry for one account; check ldap_auth.base and ldap_auth.filter',
    { cause },
  );
}

/**
 * The group search ended at the directory's size limit (slapd's `sizelimit`, 500 by default; AD's
 * MaxPageSize, 1000): a group list cut short could leave out a label a rule needs, so the login
 * is refused as an outage, saying what to change.
 */
export function tooManyGroups(cause?: unknown): BackendUnavailableError {
  return new BackendUnavailableError(
    NAME,
    "the group search reached the directory's size limit (the account is in more groups than one search may return); narrow ldap_auth.group_search.filter or base, or raise the limit for the service account",
    { cause },
  );
}

/**
 * The directory sent an attribute's values in ranges (`memberOf;range=0-1499`): Active Directory
 * does so for an attribute with more values than its MaxValRange (1500) lets one reply hold, and
 * leaves the attribute itself empty. regauth does not fetch the other ranges; a label list cut
 * short could leave out a label a rule needs, so the login is refused as an outage.
 */
export function rangedValues(attribute: string): BackendUnavailableError {
  return new BackendUnavailableError(
    NAME,
    `the directory sent ${attribute} in ranges (the account has more values than one reply may hold: Active Directory's MaxValRange), which regauth does not read; take the groups from ldap_auth.group_search instead, or raise MaxValRange`,
  );
}

/** Every failure that is not an outcome becomes BackendUnavailableError (503), keeping the cause for the log. */
export function translate(err: unknown): BackendUnavailableError {
  if (err instanceof BackendUnavailableError) return err;
  const detail =
    err instanceof ResultCodeError
      ? `directory error ${err.code}: ${err.message}`
      : err instanceof Error
        ? err.message
        : String(err);
  const hint = tlsHint(err);
  return new BackendUnavailableError(NAME, hint ? `${detail}; ${hint}` : detail, { cause: err });
}

/** Node's codes for a certificate chain it cannot verify against the trusted CAs. */
const UNTRUSTED_CHAIN = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/** The next step for a TLS failure the operator can fix in the config, if it is one. */
function tlsHint(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && UNTRUSTED_CHAIN.has(code)) {
      return "set ldap_auth.ca_certificate to the CA that signed the directory's certificate";
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return "give ldap_auth.addr a host name or address that the directory's certificate holds";
    }
    if (code === 'CERT_HAS_EXPIRED') return "the directory's certificate has expired: renew it";
  }
  return undefined;
}
