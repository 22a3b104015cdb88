/**
 * Commit 8d072a5 gave server.path_prefix a pattern in the JSON Schema,
 * (a negative lookahead for a double slash, then a character class), for the loader's refine
 * (src/config/schema.ts: a leading slash, no trailing slash, and `!p.includes('//')`). The lookahead stands
 * after the leading `/`, so it never sees a `//` that begins with it: `//regauth` (and `//a/b`)
 * pass the schema, an editor shows nothing, and `serve` refuses the file ("must be empty or a
 * path like \"/regauth\""). Found by a review.
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

test.each(['//regauth', '//a/b'])(
  'path_prefix %s is refused by the loader and by the schema alike',
  (prefix) => {
    const body = `users: {}\nserver:\n  path_prefix: "${prefix}"\n`;
    const loader = configs.errors(body).filter((m) => /path like/.test(m));
    expect(loader.length, 'the loader refuses it').toBeGreaterThan(0);
    validate(yaml.load(configs.head + body, { schema: yaml.CORE_SCHEMA }));
    const schemaErrors = (validate.errors ?? []).filter((e) => e.instancePath === '/server/path_prefix');
    expect(schemaErrors.length, 'the schema refuses it too').toBeGreaterThan(0);
  },
);
