/**
 * Found by a review of 011c473 ("Pass an ext command's numeric args as written, as docker_auth does").
 *
 * docs/backends/ext.md: "an argument YAML reads as a number or true/false ([--port, 8080]) is
 * passed as written (8080, 0x1F, 1.0), as docker_auth passes it". The text is taken from the
 * file between js-yaml's 'open' and 'close' listener events (src/config/yaml.ts loadNodes), which
 * spans the node's properties and aliases too, and is indexed into the text as given while
 * js-yaml counts positions in the text after dropping a leading BOM. So the command is run with
 * `&port 8080`, `*port`, `!!int 8080`, or (a file saved with a BOM) `808`: a wrong argument,
 * silently. Go's yaml.v2 gives a []string the scalar's value: "8080" in every case.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { join } from 'node:path';
import { loadConfigText } from '../../src/config/load.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r2-ext-args-');
let head = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  head = `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nacl: []\n`;
});
afterAll(() => tmp.cleanup());

const argsOf = (text: string) => loadConfigText(text, { file: join(tmp.dir, 'config.yml') }).ext_auth?.args;

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
