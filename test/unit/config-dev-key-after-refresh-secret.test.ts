import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { devKeyFiles, pendingDevKeys } from '../../src/token/generate.js';
import { tempDir } from '../helpers/fixtures.js';

/**
 * Found by a review of key handling: the development key is made only for a config that is
 * otherwise valid (LoadOptions.devKey), but a `token.refresh.secret_file` that cannot be read
 * was read after the key was written, so `regauth serve` refusing such a config left a fresh
 * ./data/token.key behind.
 */
const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('a config refused for its refresh secret', () => {
  test('leaves no development key behind', async () => {
    const data = join(tmp.dir, 'data');
    const files = devKeyFiles(data);
    const text = `server:
  addr: "127.0.0.1:0"
token:
  issuer: t
  services: [registry.example]
  refresh:
    secret_file: ${join(tmp.dir, 'missing.secret')}
users:
  alice:
    password: "$2y$05$abcdefghijklmnopqrstuuWw2yYUBLj4u8XW1hOXo8ZVvU2ps7kC2"
acl:
  - match: {account: alice}
    actions: ["*"]
`;
    // As `regauth serve` does (src/service/load.ts): the key made in memory, written by create().
    const write = await pendingDevKeys(data);
    expect(write).toBeDefined();
    let thrown: unknown;
    try {
      loadConfigText(text, {
        file: join(tmp.dir, 'config.yml'),
        devKey: { ...files, create: () => write!() },
      });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigErrors);
    expect(String((thrown as Error).message)).toContain('token.refresh.secret_file');
    expect(existsSync(files.keyPath)).toBe(false);
    expect(existsSync(data)).toBe(false);
  });
});
