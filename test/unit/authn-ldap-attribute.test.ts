import { expect, test } from 'vitest';
import { attributeKey } from '../../src/authn/ldap/attribute.js';
import { rdnValue } from '../../src/authn/ldap/dn.js';
import { attributeValues, storedSpelling } from '../../src/authn/ldap/entry.js';

/**
 * A filter may name an attribute by another of its schema names (`userid` for `uid`); the
 * directory returns it by its first name. Found by a review of ldap_auth against slapd: every
 * login through `(userid=${account})` was a silent no_match (test/e2e/ldap-attribute-alias.test.ts).
 */
test('the names of one attribute give one key, without regard to case', () => {
  expect(attributeKey('userid')).toBe('uid');
  expect(attributeKey('UserID')).toBe('uid');
  expect(attributeKey('uid')).toBe('uid');
  expect(attributeKey('commonName')).toBe('cn');
  expect(attributeKey('rfc822Mailbox')).toBe('mail');
  expect(attributeKey('sAMAccountName')).toBe('samaccountname');
  expect(attributeKey('memberOf')).toBe('memberof');
});

test('an entry returned with uid is read for userid, in its values and its DN', () => {
  const entry = { dn: 'uid=alice,ou=people,dc=example,dc=org', uid: ['alice'], cn: 'Alice A' };
  expect(attributeValues(entry, 'userid')).toEqual(['alice']);
  expect(attributeValues(entry, 'commonName')).toEqual(['Alice A']);
  expect(attributeValues(entry, 'mail')).toEqual([]);
  expect(rdnValue(entry.dn, 'userid')).toBe('alice');
  expect(storedSpelling([{ attribute: 'userid', template: '${account}' }], entry)).toBe('alice');
});
