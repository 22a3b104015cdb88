/**
 * Found by a review of f395369 ("Read an ext arg's text without its anchor, tag or BOM offset").
 *
 * docs/backends/ext.md: an argument YAML reads as a number or true/false is "passed as written
 * (8080, 0x1F, 1.0; an alias as its anchor's text), as docker_auth passes it". Go's yaml.v2 gives
 * a []string the scalar's own text. src/config/yaml.ts valueText strips the node's properties
 * (`&a`, `!!int`) but not what may follow them before the value:
 *   - a comment after the properties (`- &port # the registry port` then the value on the next
 *     line): the command gets "# the registry port\n      8080";
 *   - a quoted scalar given a tag (`!!int "0x1F"`, `!!bool 'true'`): the command gets the quotes,
 *     `"0x1F"`, where yaml.v2 gives 0x1F.
 * Fix: src/config/yaml.ts valueText — skip comments/blank lines after the properties, and take a
 * quoted scalar's content (the text js-yaml read), not its quotes.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { join } from 'node:path';
import { loadConfigText } from '../../src/config/load.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r3-ext-args-');
let head = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  head = `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nacl: []\n`;
});
afterAll(() => tmp.cleanup());

const argsOf = (text: string) => loadConfigText(text, { file: join(tmp.dir, 'config.yml') }).ext_auth?.args;

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
