/**
 * Found by a review of ea68e2a ("Read an LDAP attribute by any of its standard schema names"): attribute.ts
 * makes `street` and `streetAddress` one attribute. They are in OpenLDAP's core.schema
 * (2.5.4.9 NAME ( 'street' 'streetAddress' )), but not in Active Directory, where they are two
 * attributes with their own values: `street` is 2.5.4.9 (Street-Address) and `streetAddress` is
 * 1.2.840.113556.1.2.256 (Address, the "Street" box of Users and Computers). OpenLDAP's own
 * msuser.schema lists AD's streetAddress separately (MSADat2:256, commented out there for this
 * very clash). AD has no aliases at all: it returns each attribute under its one name.
 *
 * So against AD, an entry carrying both comes back with both keys, and attributeValues answers
 * for either name with whichever key comes first: a config with labels from both (the search
 * asks for every label attribute) gets the values of `street` for the `streetAddress` label (or
 * the other way round), silently; ACL rules on that label then match on the wrong attribute's
 * values. docker_auth reads each label from the attribute named.
 *
 * Expected: an attribute named in the config is read from that attribute when the entry holds it
 * under exactly that name; aliases only fill in when the entry has no such key (or AD-distinct
 * pairs such as street/streetAddress are not merged).
 */
import { expect, test } from 'vitest';
import { attributeValues, entryLabels } from '../../src/authn/ldap/entry.js';

// An AD user entry as ldapts returns it, asked for both attributes.
const entry = {
  dn: 'CN=Alice Liddell,OU=Staff,DC=corp,DC=example',
  sAMAccountName: 'alice',
  street: 'Wonderland Lane 1',
  streetAddress: 'Building 7',
};

test('an AD entry with street and streetAddress: each is read from its own attribute', () => {
  expect(attributeValues(entry, 'street')).toEqual(['Wonderland Lane 1']);
  expect(attributeValues(entry, 'streetAddress')).toEqual(['Building 7']);
});

test('labels from street and streetAddress keep their own values', () => {
  const labels = entryLabels(
    {
      labels: new Map([
        ['street', { attribute: 'street', parseCn: false, lowerCase: false }],
        ['site', { attribute: 'streetAddress', parseCn: false, lowerCase: false }],
      ]),
      groupSearch: undefined,
    },
    entry,
    [],
  );
  expect(labels).toEqual({ street: ['Wonderland Lane 1'], site: ['Building 7'] });
});
