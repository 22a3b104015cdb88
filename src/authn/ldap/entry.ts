import type { Entry } from 'ldapts';
import type { Labels } from '../../authz/types.js';
import { foldAccountName, simpleLowerCase } from '../../core/account-name.js';
import type { AuthnResult } from '../types.js';
import type { AccountTerm, LdapConfig, LdapLabelSource } from './config.js';
import { attributeKey } from './attribute.js';
import { cnOf, rdnValue } from './dn.js';
import { rangedValues } from './errors.js';

/**
 * An attribute's values as strings; attribute names compare as in LDAP, without regard to case;
 * when the entry holds no attribute of that name, by another of its standard names
 * (attributeKey: `userid` is returned as `uid`). The name itself comes first: a directory without
 * those aliases (Active Directory) may hold two attributes the standard schemas call one.
 * Throws (errors.ts rangedValues) when the directory sent some of the values only, in ranges.
 */
export function attributeValues(entry: Entry, attribute: string): string[] {
  const keys = Object.keys(entry).filter((k) => k !== 'dn');
  const lower = attribute.toLowerCase();
  const wanted = attributeKey(attribute);
  // A key with no values counts as absent (ldapts lists an attribute asked for and not sent).
  const valuesOf = (key: string | undefined): string[] => {
    const value = key === undefined ? undefined : entry[key];
    if (value === undefined) return [];
    const values = Array.isArray(value) ? value : [value];
    return values.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
  };
  // Values sent in ranges (`memberOf;range=0-1499`, the attribute itself left empty): some of them
  // only, never taken for all.
  const ranged = keys.find((k) => {
    const match = /^([^;]+);range=/i.exec(k);
    return match !== null && attributeKey(match[1]!) === wanted;
  });
  if (ranged !== undefined) throw rangedValues(attribute);
  const own = valuesOf(keys.find((k) => k.toLowerCase() === lower));
  if (own.length > 0) return own;
  return valuesOf(keys.find((k) => k.toLowerCase() !== lower && attributeKey(k) === wanted));
}

/**
 * The one name of the entry's account: taken from the first of the filter's account terms for
 * which the entry holds a value fitting it (the part standing for `${account}`: `Alice` out of
 * `Alice@example.org` for `(mail=${account}@example.org)`). So `ALICE`, `Alice` and, with
 * `(|(uid=${account})(mail=${account}))`, `alice@example.org` all name the account `alice`.
 * An entry with several such values (a `uid` kept after a rename, mail aliases) still has one
 * name, whichever was typed: the value its DN names it by (`uid=alice,…`), else the least in
 * code-unit order. Undefined when no term yields a name.
 */
export function storedSpelling(terms: readonly AccountTerm[], entry: Entry): string | undefined {
  for (const t of terms) {
    const parts = t.template.split('${account}');
    if (parts.length !== 2) continue;
    const [prefix, suffix] = parts as [string, string];
    const core = (value: string) => {
      const fits =
        value.length > prefix.length + suffix.length &&
        foldAccountName(value.slice(0, prefix.length)) === foldAccountName(prefix) &&
        foldAccountName(value.slice(value.length - suffix.length)) === foldAccountName(suffix);
      return fits ? value.slice(prefix.length, value.length - suffix.length).trim() : '';
    };
    const names = attributeValues(entry, t.attribute)
      .map(core)
      .filter((name) => name !== '');
    if (names.length <= 1) {
      if (names.length === 1) return names[0];
      continue;
    }
    const own = rdnValue(entry.dn, t.attribute);
    const named = own === undefined ? '' : foldAccountName(core(own));
    return names.find((n) => named !== '' && foldAccountName(n) === named) ?? names.sort()[0];
  }
  return undefined;
}

/** An `authenticated` answer naming the stored spelling when the login typed another. */
export function authenticated(labels: Labels, typed: string, stored: string): AuthnResult {
  return stored === typed
    ? { outcome: 'authenticated', labels }
    : { outcome: 'authenticated', labels, account: stored };
}

export function labelValue(value: string, source: LdapLabelSource): string {
  // docker_auth keeps a value without a CN as it is, and lowers it as Go's strings.ToLower does.
  const v = source.parseCn ? (cnOf(value) ?? value) : value;
  return source.lowerCase ? simpleLowerCase(v) : v;
}

/** The labels of an entry: from its attributes, and the group search's values (`groups`) if there is one. */
export function entryLabels(
  config: Pick<LdapConfig, 'labels' | 'groupSearch'>,
  entry: Entry,
  groups: string[],
): Labels {
  // A Map, then fromEntries (which defines each key): in a plain object a label named
  // `constructor` or `toString` would find Object's own.
  const labels = new Map<string, string[]>();
  const add = (name: string, values: string[]) => {
    labels.set(name, [...new Set([...(labels.get(name) ?? []), ...values.filter((v) => v !== '')])]);
  };
  for (const [name, source] of config.labels) {
    add(
      name,
      attributeValues(entry, source.attribute).map((v) => labelValue(v, source)),
    );
  }
  if (config.groupSearch) add(config.groupSearch.label, groups);
  return Object.fromEntries(labels);
}
