/**
 * Found by a review of the external-program backends.
 * config.example.yml and docs/configuration.md: "a docker_auth config using … ext_auth,
 * ext_authz … runs unchanged". docker_auth reads `args` with Go's yaml.v2 into a []string, which
 * takes any scalar's text as the string: `args: [--port, 8080]` runs the command with "8080".
 * regauth reads the YAML with js-yaml, gets the number 8080 and refuses the whole config
 * ("ext_auth.args[1]: args must be strings"), without even saying to quote it (as it does for a
 * user name YAML reads as a number). A migrated config with a numeric argument (a port, a
 * timeout, a log level) does not start. Fix: in src/ext/config.ts, take a number or boolean
 * scalar in `args` as the text written (or, at the least, say to quote it).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { join } from 'node:path';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-ext-args-');
let head = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  head = `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nacl: []\n`;
});
afterAll(() => tmp.cleanup());

const argsOf = (text: string) => loadConfigText(text, { file: join(tmp.dir, 'config.yml') }).ext_auth?.args;

test('a docker_auth ext_auth with unquoted numbers in args loads, each as the text written', () => {
  let config;
  try {
    config = loadConfigText(
      `${head}ext_auth:\n  command: /bin/true\n  args: [--port, 8080, --retries, 3]\n`,
      {
        file: join(tmp.dir, 'config.yml'),
      },
    );
  } catch (err) {
    if (err instanceof ConfigErrors) throw new Error(err.errors.map((e) => e.message).join('\n'));
    throw err;
  }
  expect(config.ext_auth?.args).toEqual(['--port', '8080', '--retries', '3']);
});

test('each argument is the text written, as yaml.v2 gives it, in ext_authz too', () => {
  const config = loadConfigText(
    `${head}ext_authz:\n  command: /bin/true\n  args:\n    - 0x1F\n    - 1.0\n    - 010\n    - true\n    - "7"\n    - 1e3 # a comment\n`,
    { file: join(tmp.dir, 'config.yml') },
  );
  expect(config.ext_authz?.args).toEqual(['0x1F', '1.0', '010', 'true', '7', '1e3']);
});

test('an argument YAML reads as no value is refused with its path', () => {
  let error: unknown;
  try {
    loadConfigText(`${head}ext_auth:\n  command: /bin/true\n  args: [--x, ~]\n`, {
      file: join(tmp.dir, 'config.yml'),
    });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigErrors);
  expect((error as ConfigErrors).errors.map((e) => e.message)).toEqual([
    expect.stringMatching(/^ext_auth\.args\[1\]: args must be strings/),
  ]);
});

test('an argument holding NUL is still refused as one', () => {
  expect(() =>
    loadConfigText(`${head}ext_auth:\n  command: /bin/true\n  args: ["a\\0b"]\n`, {
      file: join(tmp.dir, 'config.yml'),
    }),
  ).toThrow(/NUL character/);
});

// Found by a review of that fix: the text was sliced from js-yaml's events, properties and all
// (`&port 8080`, `*port`, `!!int 8080`), and a file with a BOM was read one position off.
test('an anchored number and its alias are passed as the number written', () => {
  // Today: ['--port', '&port 8080', '--again', '*port'].
  expect(
    argsOf(`${head}ext_auth:\n  command: /bin/true\n  args: [--port, &port 8080, --again, *port]\n`),
  ).toEqual(['--port', '8080', '--again', '8080']);
});

test('an alias to a number anchored in another section is passed as that number', () => {
  // Today: ['--port', '*port'].
  const text = `${head}ext_authz:\n  command: /bin/true\n  args: [--port, &port 8080]\next_auth:\n  command: /bin/true\n  args: [--port, *port]\n`;
  expect(argsOf(text)).toEqual(['--port', '8080']);
});

test('a tagged number is passed without its tag', () => {
  // Today: ['--port', '!!int 8080'].
  expect(argsOf(`${head}ext_auth:\n  command: /bin/true\n  args: [--port, !!int 8080]\n`)).toEqual([
    '--port',
    '8080',
  ]);
});

test('a file saved with a UTF-8 BOM passes the number whole', () => {
  // Today: ['--port', '808'] (every position one off).
  expect(argsOf(`\uFEFF${head}ext_auth:\n  command: /bin/true\n  args: [--port, 8080]\n`)).toEqual([
    '--port',
    '8080',
  ]);
});

test('.inf and .nan, which no string schema can hold as numbers, are refused: quote them', () => {
  for (const value of ['.inf', '-.inf', '.nan']) {
    expect(() => argsOf(`${head}ext_auth:\n  command: /bin/true\n  args: [--limit, ${value}]\n`)).toThrow(
      /ext_auth\.args\[1\]: .*quote ~, null, \.inf or \.nan/,
    );
  }
});

// Found by a review of the next fix: a comment after an anchor, and the quotes of a tagged scalar.
test('a comment between an anchor and its number is not part of the argument', () => {
  // Today: ['--port', '# the registry port\n      8080'].
  expect(
    argsOf(
      `${head}ext_auth:\n  command: /bin/true\n  args:\n    - --port\n    - &port # the registry port\n      8080\n`,
    ),
  ).toEqual(['--port', '8080']);
});

test('a tagged quoted number or boolean is passed without its quotes', () => {
  // Today: ['--port', '"0x1F"', '--on', "'true'"].
  expect(
    argsOf(`${head}ext_auth:\n  command: /bin/true\n  args: [--port, !!int "0x1F", --on, !!bool 'true']\n`),
  ).toEqual(['--port', '0x1F', '--on', 'true']);
});

// Found by a review of that fix: js-yaml's end of an alias is past the comment after it, and the
// anchor looked up was `ver # note`.
test("an alias followed by a comment on its line is passed as its anchor's text", () => {
  // Today: ['--version', '1.0', '--version', '1', '--mask', '0x1F', '--mask', '31'].
  expect(
    argsOf(
      `${head}ext_auth:\n  command: /bin/true\n  args:\n    - --version\n    - &ver 1.0\n    - --version\n    - *ver # same as above\n    - --mask\n    - &m 0x1F\n    - --mask\n    - *m  # again\n`,
    ),
  ).toEqual(['--version', '1.0', '--version', '1.0', '--mask', '0x1F', '--mask', '0x1F']);
});

test("an alias followed by a comment line is passed as its anchor's text", () => {
  // Today: ['1.0', '1', '2'].
  expect(
    argsOf(
      `${head}ext_auth:\n  command: /bin/true\n  args:\n    - &ver 1.0\n    - *ver\n    # the next one\n    - 2\n`,
    ),
  ).toEqual(['1.0', '1.0', '2']);
});
