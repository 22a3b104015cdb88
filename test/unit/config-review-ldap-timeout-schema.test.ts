/**
 * docs/configuration.md "Editor support": the JSON Schema carries "each duration's range for a
 * number of seconds"; commit 8d072a5 moved the keys that refined a duration afterwards to
 * durationIn. ldap_auth.connect_timeout and ldap_auth.operation_timeout were left out: they still
 * read `durationBetween(0, Infinity, …).default(…).refine(1..60)` (src/authn/ldap/config.ts
 * `seconds`), so the schema gives them 0 to 100 years. An editor accepts `connect_timeout: 0` or
 * `operation_timeout: 120`; the loader's first pass refuses both ("must be between 1 and 60
 * seconds"). Found by a review.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import yaml from 'js-yaml';
import { expect, test } from 'vitest';
import { configJsonSchema } from '../../src/config/json-schema.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('config-review-');
const ajv = new Ajv2020({ allErrors: true, strict: false, allowUnionTypes: true });
addFormats.default(ajv);
const validate = ajv.compile(configJsonSchema());

test.each([
  ['connect_timeout', '0'],
  ['connect_timeout', '61'],
  ['operation_timeout', '0'],
  ['operation_timeout', '120'],
])('ldap_auth.%s: %s is refused by the loader and by the schema alike', (key, value) => {
  const body = `users: {}\nldap_auth:\n  addr: ldap.example.com:389\n  base: dc=example,dc=com\n  filter: (uid=\${account})\n  ${key}: ${value}\n`;
  const loader = configs.errors(body).filter((m) => /between 1 and 60 seconds/.test(m));
  expect(loader.length, 'the loader refuses it').toBeGreaterThan(0);
  validate(yaml.load(configs.head + body, { schema: yaml.CORE_SCHEMA }));
  const schemaErrors = (validate.errors ?? []).filter((e) => e.instancePath === `/ldap_auth/${key}`);
  expect(schemaErrors.length, 'the schema refuses it too').toBeGreaterThan(0);
});
