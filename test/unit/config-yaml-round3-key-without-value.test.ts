/**
 * Found by a review of 8572d05 ("Redo YAML merges under the keys' written spelling").
 *
 * readMapping now rebuilds every mapping from the listener's children, taking them two by two as
 * key and value. But js-yaml reports no node for a value that is not written at all: a flow entry
 * without a colon (`{certificate, addr: x}`, YAML's "a: null") or an explicit key with no `:` line
 * (`? certificate`). The children then do not alternate (certificate, addr, "x"), so `addr` is read
 * as certificate's value node, "x" is left over, and the rebuilt mapping is {certificate: null}:
 * every key after the bare one silently disappears (and a key named after a value may appear,
 * holding undefined). Before 8572d05 such a mapping was left as js-yaml built it (the index was
 * skipped when `children.length !== 2 * keys`); docker_auth's yaml.v2 reads all of its keys.
 *
 * In a config: `server: {certificate, addr: "127.0.0.1:5999"}` (an empty certificate means unset,
 * docs/configuration.md) loads with server.addr dropped, so regauth listens on every interface at
 * the default port 5001 instead of 127.0.0.1:5999, without a word.
 */
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { parseYaml } from '../../src/config/yaml.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-review3-no-value-');

test('a flow key without a value keeps the keys after it', () => {
  expect(parseYaml(`m: {a, b: 1, c: 2}\n`).value).toEqual({ m: { a: null, b: 1, c: 2 } });
});

test('an explicit key (? a) without a value keeps the keys after it', () => {
  expect(parseYaml(`m:\n  ? a\n  b: 1\n  c: 2\n`).value).toEqual({ m: { a: null, b: 1, c: 2 } });
});

test('server.addr after an empty certificate written bare is not dropped', () => {
  const config = loadConfigText(`server: {certificate, addr: "127.0.0.1:5999"}\n${configs.head}`, {
    file: join(configs.dir, 'config.yml'),
  });
  expect(config.server.addr).toEqual({ host: '127.0.0.1', port: 5999 });
});
