/**
 * Attribute names as the directory compares them: without regard to case, and with the other
 * names the standard schemas give one attribute (RFC 4519, RFC 4524, inetOrgPerson; OpenLDAP's
 * core, cosine and inetorgperson schemas). A filter may name an attribute by any of them
 * (`(userid=${account})`), but the directory returns it by its first name (`uid`). Not
 * `street`/`streetAddress`: one attribute in OpenLDAP, two in Active Directory.
 */
const NAMES: readonly (readonly string[])[] = [
  ['cn', 'commonName'],
  ['sn', 'surname'],
  ['gn', 'givenName'],
  ['uid', 'userid'],
  ['mail', 'rfc822Mailbox'],
  ['o', 'organizationName'],
  ['ou', 'organizationalUnitName'],
  ['l', 'localityName'],
  ['st', 'stateOrProvinceName'],
  ['c', 'countryName'],
  ['dc', 'domainComponent'],
  ['homePhone', 'homeTelephoneNumber'],
  ['mobile', 'mobileTelephoneNumber'],
  ['pager', 'pagerTelephoneNumber'],
  ['drink', 'favouriteDrink'],
];

const FIRST = new Map(NAMES.flatMap((names) => names.map((n) => [n.toLowerCase(), names[0]!.toLowerCase()])));

/** One key for every name of an attribute: `userid`, `UID` and `uid` give `uid`. */
export function attributeKey(name: string): string {
  const lower = name.toLowerCase();
  return FIRST.get(lower) ?? lower;
}
