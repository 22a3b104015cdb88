/**
 * Found by a review of caa8393 ("Read a configured LDAP filter's escapes as UTF-8 octets"): escapes of
 * octets that are not part of a whole UTF-8 character are left "as written", and ldapts' parser
 * still reads each of them as one UTF-16 code unit (String.fromCharCode) and writes it as UTF-8.
 * So `\a1` goes on the wire as the two octets c2 a1, `\c3` as c3 83, and so on.
 *
 * RFC 4515 escapes are octets; `ldapsearch` and docker_auth (go-ldap) send `\a1` as the one
 * octet a1. Escapes are how a filter names a binary value: Active Directory's objectSid or
 * objectGUID (`(objectSid=\01\05\00…\a1\b2…)`), any octetString attribute. Such a filter in
 * `filter` or `group_search.filter` loads without a word, as the one this commit fixed did, and
 * the term then never matches what it names: a restriction on a group's SID makes every login a
 * 401, an exclusion by SID (`(!(objectSid=…))`) excludes nothing, a group search finds nothing.
 * The commit's own unit cases pin this (`(cn=\c3)` stays `(cn=\c3)`, which is sent as c3 83), and
 * docs/backends/ldap.md now says escapes are read "as ldapsearch and docker_auth read them".
 *
 * Shown here with ldapts' own encoder (what Client.search does with a string filter:
 * FilterParser.parseString, then the filter's BER): the assertion value sent for the configured
 * escapes is not the escaped octets.
 *
 * Expected: the octets of every escape are sent as they are (e.g. a Filter whose value is a
 * Buffer), or a filter with escapes ldapts cannot send as written is refused at load
 * (ConfigError naming the key), never loaded to send other bytes.
 */
import { describe, expect, test } from 'vitest';
import { BerWriter, FilterParser } from 'ldapts';
import { compileLdapConfig, ldapAuthSchema, type LdapConfig } from '../../src/authn/ldap/config.js';
import { ConfigError } from '../../src/core/errors.js';

// An Active Directory objectSid (S-1-5-21-…-500), escaped octet by octet as RFC 4515 says.
const SID_OCTETS = Buffer.from('010500000000000515000000a1b2c3d4e5f60718293a4b5cf4010000', 'hex');
const SID_ESCAPED = [...SID_OCTETS].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('');

function compile(section: Record<string, unknown>): LdapConfig {
  return compileLdapConfig(
    ldapAuthSchema.parse({ addr: 'ldap.example.org:389', base: 'dc=example,dc=org', ...section }),
    { at: (p) => p, readFile: () => '' },
  );
}

/** The octets ldapts puts on the wire for a string filter (Client.search: parseString, then BER). */
function wire(filter: string): Buffer {
  const writer = new BerWriter();
  FilterParser.parseString(filter.replaceAll('${account}', 'alice').replaceAll('${dn}', 'cn=x')).write(
    writer,
  );
  return writer.buffer;
}

describe('ldap_auth: escapes of octets outside UTF-8 in the configured filters', () => {
  test.each([
    ['filter', { filter: `(&(sAMAccountName=\${account})(objectSid=${SID_ESCAPED}))` }],
    [
      'group_search.filter',
      {
        filter: '(sAMAccountName=${account})',
        group_search: {
          base: 'dc=example,dc=org',
          filter: `(&(member=\${dn})(!(objectSid=${SID_ESCAPED})))`,
        },
      },
    ],
  ])('%s: the SID is sent as its octets, or the filter is refused at load', (key, section) => {
    let config: LdapConfig;
    try {
      config = compile(section);
    } catch (err) {
      // Refusing the filter at load is a fix too.
      expect(err).toBeInstanceOf(ConfigError);
      return;
    }
    const filter = key === 'filter' ? config.filter : config.groupSearch!.filter;
    const sent = wire(filter);
    expect(sent.includes(SID_OCTETS), `sent ${sent.toString('hex')}`).toBe(true);
  });

  test('a lone octet (\\ff) is sent as ff, or refused at load', () => {
    let config: LdapConfig;
    try {
      config = compile({ filter: '(&(uid=${account})(description=\\ff))' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return;
    }
    const sent = wire(config.filter);
    // The assertion value of the second term: 04 01 ff when sent as the octet; 04 02 c3 bf now.
    expect(sent.includes(Buffer.from('0401ff', 'hex')), `sent ${sent.toString('hex')}`).toBe(true);
  });
});
