/**
 * docs/configuration.md: the loader's first pass checks "the file's shape (unknown keys, types,
 * ranges, required keys)", and "Editor support" says the JSON Schema is generated from that zod
 * schema "so the two refuse the same shapes"; only "durations written with units beyond their
 * syntax" (and files, regexes, patterns, CIDRs, cross-key rules) are validate's alone. Yet every
 * duration key is `"type": ["number", "string"]` in the schema, with no range and no syntax: a
 * number of seconds out of range (`token.expiration: 30`, `server.headers_timeout: 0`), a
 * negative or fractional one, and a string that is no duration at all (`"banana"`) are all fine
 * for an editor, and refused by the loader's first pass. `server.path_prefix` (a zod refine in
 * the same pass) is unchecked too. An editor shows nothing; `serve` refuses to start. Found by a
 * review.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import yaml from 'js-yaml';
import { expect, test } from 'vitest';
import { configJsonSchema } from '../../src/config/json-schema.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('config-schema-ranges-');
const ajv = new Ajv2020({ allErrors: true, strict: false, allowUnionTypes: true });
addFormats.default(ajv);
const validate = ajv.compile(configJsonSchema());

test.each([
  ['token.expiration below its minimum (60 s)', 'token', 'expiration: 30'],
  ['token.expiration negative', 'token', 'expiration: -5'],
  ['token.expiration fractional', 'token', 'expiration: 1.5'],
  ['token.expiration that is no duration', 'token', 'expiration: banana'],
  ['server.headers_timeout 0 (1 s to 10 min)', 'server', 'headers_timeout: 0'],
  ['server.request_timeout past 10 min', 'server', 'request_timeout: 601'],
  ['lockout.backoff that is no duration', 'lockout', 'backoff: banana'],
  ['server.path_prefix with a trailing slash', 'server', 'path_prefix: /regauth/'],
])('both refuse %s', (_what, section, line) => {
  // As a user writes it: the key under its section (token: gets the test key first).
  const yamlText =
    section === 'token'
      ? configs.head + `  ${line}\nusers: {}\n`
      : configs.head + `users: {}\n${section}:\n  ${line}\n`;
  const loaderErrors = configs.errors(yamlText.slice(configs.head.length));
  const schemaAccepts = validate(yaml.load(yamlText, { schema: yaml.CORE_SCHEMA }));
  expect(loaderErrors.length, 'the loader refuses it').toBeGreaterThan(0);
  expect({ schema: schemaAccepts }).toEqual({ schema: false });
});
