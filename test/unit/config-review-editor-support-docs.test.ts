/**
 * docs/configuration.md "Editor support" (rewritten by commit 8d072a5) lists what the JSON Schema
 * leaves to `regauth validate`: files, regexes, patterns and placeholders, CIDRs, listen
 * addresses, RFC 3339 times, URL schemes (`store.url`), cross-key rules, "and the range of a
 * duration written with units". Two refusals of the loader's first pass are neither in the schema
 * nor in that list:
 *
 * - `oidc_auth.scopes` without `openid` (src/oidc/config.ts, a zod refine "must include openid";
 *   JSON Schema could say it with `contains`);
 * - the range of a duration written as a string of digits (`headers_timeout: "0"`, `timeout: "61"`):
 *   the schema's string branch is syntax only, and "0" has no units.
 *
 * Each test passes once the schema refuses the value, or the docs' list names it. Found by a review.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import yaml from 'js-yaml';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';
import { configJsonSchema } from '../../src/config/json-schema.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('config-review-');
const ajv = new Ajv2020({ allErrors: true, strict: false, allowUnionTypes: true });
addFormats.default(ajv);
const validate = ajv.compile(configJsonSchema());
const docs = readFileSync(resolve(import.meta.dirname, '../../docs/configuration.md'), 'utf8');
const editorSupport = /## Editor support\n([\s\S]*?)\n## /.exec(docs)![1]!;

function schemaRefuses(body: string, pointer: string): boolean {
  validate(yaml.load(configs.head + body, { schema: yaml.CORE_SCHEMA }));
  return (validate.errors ?? []).some((e) => e.instancePath === pointer);
}

test('oidc_auth.scopes without openid: refused by the schema, or listed as validate-only', () => {
  const body = `users: {}\noidc_auth:\n  issuer: https://idp.example.com\n  client_id: regauth\n  scopes: [email]\n`;
  expect(configs.errors(body).some((m) => /oidc_auth\.scopes: must include openid/.test(m))).toBe(true);
  const listed = /scopes|openid/.test(editorSupport);
  expect(schemaRefuses(body, '/oidc_auth/scopes') || listed).toBe(true);
});

test('a duration of digits in quotes out of range: refused by the schema, or not said to be units only', () => {
  const body = `users: {}\nserver:\n  headers_timeout: "0"\n`;
  expect(
    configs
      .errors(body)
      .some((m) => /headers_timeout: must be a duration between 1 second and 10 minutes/.test(m)),
  ).toBe(true);
  const unitsOnly = /range of a duration written\s+with units/.test(editorSupport);
  expect(schemaRefuses(body, '/server/headers_timeout') || !unitsOnly).toBe(true);
});
