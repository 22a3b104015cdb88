import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { configJsonSchema, keyComments, schemaKeyPaths } from '../../src/config/json-schema.js';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * The config's JSON Schema (src/config/json-schema.ts, `regauth schema`): generated from the zod
 * schema the loader enforces, described by config.example.yml's comments, shipped as
 * schema/config.schema.json. Checked here with a real JSON Schema validator (ajv, 2020-12 dialect).
 */
const ROOT = resolve(import.meta.dirname, '../..');
const schema = configJsonSchema();
const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats.default(ajv);
const validate = ajv.compile(schema);

/** Every regauth config the project ships (the registry's own config is not one). */
const SHIPPED = [
  'config.example.yml',
  ...readdirSync(join(ROOT, 'examples'))
    .filter((f) => f.endsWith('.yml'))
    .map((f) => `examples/${f}`),
  ...readdirSync(join(ROOT, 'compose/regauth'))
    .filter((f) => f.endsWith('.yml'))
    .map((f) => `compose/regauth/${f}`),
];

let keys: { dir: string; cleanup: () => void };
let keyPaths: { keyPath: string; certPath: string };
beforeAll(async () => {
  keys = tempDir();
  keyPaths = await writeSigningKey(keys.dir);
});
afterAll(() => keys.cleanup());

describe('schema/config.schema.json', () => {
  test('is what the build generates from the current zod schema and config.example.yml', () => {
    const shipped = JSON.parse(readFileSync(join(ROOT, 'schema/config.schema.json'), 'utf8')) as unknown;
    expect(shipped, 'stale: run `npm run build`').toEqual(schema);
  });

  test('holds no default of the machine it was built on', () => {
    // Found by a review: login_queue.max_pending's default (16 per core) was written as the
    // build machine's figure (32 from two cores), shown by editors as the default everywhere.
    const loginQueue = (schema.properties as Record<string, Record<string, unknown>>)['login_queue']!;
    const holder = ((loginQueue.anyOf as Record<string, unknown>[] | undefined)?.[0] ?? loginQueue) as {
      properties: Record<string, Record<string, unknown>>;
    };
    const maxPending = holder.properties['max_pending']!;
    expect(maxPending['default']).toBeUndefined();
    expect(maxPending['description']).toMatch(/Default: 16 per CPU core/);
  });

  test('is draft 2020-12 and refuses unknown keys where regauth does', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.additionalProperties).toBe(false);
    expect(validate({ token: { issuer: 'x' }, tokn: {} })).toBe(false);
  });

  test('describes every key, from the comment above it in config.example.yml', () => {
    const undescribed = schemaKeyPaths(schema)
      .filter((path) => {
        let node: Record<string, unknown> | undefined = schema;
        for (const key of path) {
          const holder =
            (node?.anyOf as Record<string, unknown>[] | undefined)?.find(
              (n) => n.properties || n.items || typeof n.additionalProperties === 'object',
            ) ?? node;
          node = (
            key === '[]'
              ? holder?.items
              : key === '*'
                ? holder?.additionalProperties
                : (holder?.properties as Record<string, unknown> | undefined)?.[key]
          ) as Record<string, unknown> | undefined;
        }
        return typeof node?.description !== 'string' || node.description === '';
      })
      .map((p) => p.join('.'));
    expect(undescribed).toEqual([]);
  });

  test('carries defaults and enums', () => {
    const server = schema.properties?.server as { properties: Record<string, { default?: unknown }> };
    expect(server.properties.addr?.default).toBe(':5001');
    expect(JSON.stringify(schema.properties?.log)).toContain('"enum"');
  });
});

describe('keyComments', () => {
  test.each<[string, string, Record<string, string>]>([
    [
      'the block above a key',
      '# Where to listen.\nserver:\n  # host:port\n  addr: x\n',
      { server: 'Where to listen.', 'server.addr': 'host:port' },
    ],
    ['a commented-out key', 'a:\n  # The file.\n  # file: /x\n', { 'a.file': 'The file.' }],
    ['a trailing comment and its continuation', 'a:\n  b: 1 # one\n       # two\n', { 'a.b': 'one two' }],
    ['a blank line ends a block', '# Header.\n\nserver: {}\n', {}],
    [
      'a list item',
      'acl:\n  - match: # which\n    actions: [] # what\n',
      { 'acl.[].match': 'which', 'acl.[].actions': 'what' },
    ],
    [
      'a sibling shares the block',
      '# Key and certificate.\n# key: k\n# certificate: c\n',
      { key: 'Key and certificate.', certificate: 'Key and certificate.' },
    ],
    ["a '#' inside quotes is not a comment", "a: 'x # y'\n", {}],
    [
      'a key right below a described sibling shares it',
      '# Two timeouts.\na: 1\nb: 2\n',
      { a: 'Two timeouts.', b: 'Two timeouts.' },
    ],
  ])('%s', (_what, text, expected) => {
    expect(Object.fromEntries(keyComments(text))).toEqual(expected);
  });
});

describe('every shipped config', () => {
  test.each(SHIPPED)('%s carries the modeline and the schema accepts it', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const modeline = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text.split('\n')[0] ?? '');
    expect(modeline, 'first line: # yaml-language-server: $schema=…').not.toBeNull();
    expect(resolve(ROOT, file, '..', modeline![1]!)).toBe(join(ROOT, 'schema/config.schema.json'));
    const ok = validate(yaml.load(text));
    expect(ok ? [] : validate.errors).toEqual([]);
  });
});

describe('the schema and the loader agree', () => {
  const base = () => ({
    token: { issuer: 'regauth', key: keyPaths.keyPath, certificate: keyPaths.certPath },
    users: { alice: { labels: { group: ['devs'] } } },
    acl: [{ match: { account: 'alice' }, actions: ['pull'] }],
  });
  /** Does regauth's loader accept it? */
  const loads = (config: unknown) => {
    try {
      loadConfigText(yaml.dump(config));
      return true;
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigErrors);
      return false;
    }
  };

  test('both accept a valid config', () => {
    expect(validate(base())).toBe(true);
    expect(loads(base())).toBe(true);
  });

  // docker_auth's reference config leaves optional keys empty (YAML null), and docker_auth reads
  // an empty string as unset for some of them: regauth loads both, so an editor must not flag them.
  test.each<[string, (c: Record<string, unknown>) => void]>([
    ['server keys left empty (YAML null)', (c) => (c.server = { addr: null, certificate: null, key: null })],
    ["server.certificate and key as ''", (c) => (c.server = { certificate: '', key: '' })],
    [
      "ldap_auth's optional keys as '' or null",
      (c) =>
        (c.ldap_auth = {
          addr: 'ldap.example:389',
          base: 'dc=example,dc=org',
          filter: '(uid=${account})',
          tls: '',
          bind_dn: '',
          bind_password_file: null,
          ca_certificate: '',
        }),
    ],
  ])('both accept %s', (_what, mutate) => {
    const config: Record<string, unknown> = base();
    mutate(config);
    expect({ schema: validate(config), loader: loads(config) }).toEqual({ schema: true, loader: true });
  });

  // A config as plain data, mutated freely by the rows below.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Loose = Record<string, any>;
  test.each<[string, (c: Loose) => void]>([
    ['an unknown top-level key', (c) => (c.tokens = {})],
    ['an unknown nested key', (c) => (c.acl[0].match.team = 'a')],
    ['a wrong type', (c) => (c.token.x5c = 'yes')],
    ['a list where a string belongs', (c) => (c.token.issuer = ['a'])],
    ['a bad enum', (c) => (c.log = { format: 'xml' })],
    ['a missing required key', (c) => delete c.token.issuer],
    ['a missing section', (c) => delete c.token],
    ['an empty string', (c) => (c.token.issuer = '')],
    ['an ACL rule without actions', (c) => delete c.acl[0].actions],
    ['labels that are not text', (c) => (c.users.alice.labels = { group: [{ a: 1 }] })],
    ['a lockout table too large to allocate', (c) => (c.lockout = { max_entries: 1e15 })],
    ['a credential cache too large to allocate', (c) => (c.credential_cache = { max_entries: 1e15 })],
  ])('both refuse %s', (_what, mutate) => {
    const config = base() as Loose;
    mutate(config);
    expect({ schema: validate(config), loader: loads(config) }).toEqual({ schema: false, loader: false });
  });
});
