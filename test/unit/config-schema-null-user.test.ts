/**
 * docs/configuration.md "Editor support": the schema and the loader refuse the same shapes. A user
 * left empty (`alice:` under `users:`) is refused at load with what to write instead, but the
 * schema let it be null, so an editor showed nothing. Found by a review.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import yaml from 'js-yaml';
import { expect, test } from 'vitest';
import { configJsonSchema } from '../../src/config/json-schema.js';

const schema = configJsonSchema();

test('the JSON Schema refuses a users: entry left empty (`alice:`), as the loader does', () => {
  const ajv = new Ajv2020({ strict: false, allowUnionTypes: true });
  const validate = ajv.compile(schema);
  const value = yaml.load('token: {issuer: t}\nusers:\n  alice:\n', { schema: yaml.CORE_SCHEMA });
  // The loader: "users.alice: has no value: write `alice: {}` …"; an editor shows nothing.
  expect(validate(value)).toBe(false);
});
