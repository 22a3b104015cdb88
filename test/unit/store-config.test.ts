import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError, ConfigErrors } from '../../src/core/errors.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir();
let keyLines = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  keyLines = `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n`;
});
afterAll(() => tmp.cleanup());

function load(store: string) {
  return loadConfigText(`${keyLines}store:\n${store}`, { file: join(tmp.dir, 'config.yml') });
}
function errorOf(store: string): string {
  try {
    load(store);
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => e.message).join('\n');
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('config loaded without error');
}

describe('store:', () => {
  test('absent or empty: memory, fail_closed', () => {
    const config = loadConfigText(keyLines, { file: join(tmp.dir, 'config.yml') });
    expect(config.store).toEqual({ type: 'memory', onStoreError: 'fail_closed' });
    expect(load('  type: memory\n').store.type).toBe('memory');
  });

  test('redis: the password comes from its file and never shows', () => {
    const file = join(tmp.dir, 'redis-password');
    writeFileSync(file, 'sw0rdfish-redis\n');
    const config = load(
      `  type: redis\n  url: redis://127.0.0.1:6379/0\n  username: regauth\n  password_file: ${file}\n  timeout_ms: 250\n  on_store_error: fail_open\n`,
    );
    const store = config.store;
    expect(store).toMatchObject({
      type: 'redis',
      url: 'redis://127.0.0.1:6379/0',
      username: 'regauth',
      keyPrefix: 'regauth:',
      timeoutMs: 250,
      onStoreError: 'fail_open',
    });
    expect(store.type === 'redis' && store.password?.reveal()).toBe('sw0rdfish-redis');
    expect(JSON.stringify(config)).not.toContain('sw0rdfish');
  });

  test.each([
    ['  type: redis\n', 'store.url: required with type: redis'],
    ['  type: redis\n  url: redis://:hunter2@redis:6379/0\n', 'store.url: must not hold a user or password'],
    [
      '  type: redis\n  url: redis://redis:6379/0?password=hunter2\n',
      'store.url: must not hold a user or password',
    ],
    [
      '  type: redis\n  url: redis://redis:6379/0?username=u&x=hunter2\n',
      'store.url: must not hold a user or password',
    ],
    // A query would override the store's own keys (ioredis gives URL options priority).
    ['  type: redis\n  url: redis://redis:6379/0?commandTimeout=60000\n', 'store.url: takes no query'],
    ['  type: redis\n  url: rediss://redis:6380/0?tls=x\n', 'store.url: takes no query'],
    ['  type: redis\n  url: redis://redis:6379/abc\n', 'store.url: the path is the database number'],
    ['  type: redis\n  url: redis://redis/tmp/redis.sock\n', 'store.url: the path is the database number'],
    // A URL parser drops these; ioredis reads the text as it is (a leading space: no redis://).
    [
      '  type: redis\n  url: " redis://redis:6379/0"\n',
      'store.url: must not hold spaces or control characters',
    ],
    ['  type: redis\n  url: "redis:\\t//redis/0"\n', 'store.url: must not hold spaces or control characters'],
    // Without "//host" ioredis reads "redis:/0" as host "redis" and the socket path "/0".
    // ioredis turns TLS on only for a URL that starts with "rediss://" in lower case.
    ['  type: redis\n  url: "REDISS://redis:6380/0"\n', 'store.url: must start with redis:// or rediss://'],
    ['  type: redis\n  url: "redis:/0"\n', 'store.url: must be redis://HOST'],
    ['  type: redis\n  url: "rediss:/0"\n', 'store.url: must be redis://HOST'],
    ['  type: redis\n  url: "redis:"\n', 'store.url: must be redis://HOST'],
    ['  type: redis\n  url: "redis:///0"\n', 'store.url: must be redis://HOST'],
    ['  type: redis\n  url: http://redis:6379/0\n', 'store.url: must start with redis://'],
    ['  type: memory\n  url: redis://redis:6379/0\n', 'store.url: only used with type: redis'],
    [
      '  type: redis\n  url: redis://redis/0\n  username: x\n',
      'store.password_file: required when username is set',
    ],
    ['  type: redis\n  url: redis://redis/0\n  timeout_ms: 5\n', 'store.timeout_ms'],
    ['  type: redis\n  url: redis://redis/0\n  on_store_error: ignore\n', 'store.on_store_error'],
    ['  type: redis\n  url: redis://redis/0\n  password_file: /nonexistent/pw\n', 'store.password_file'],
    [
      '  type: redis\n  url: redis://redis/0\n  ca_certificate: /nonexistent/ca\n',
      'store.ca_certificate: only used with a rediss:// url',
    ],
    ['  type: valkey\n', 'store.type: must be memory or redis'],
  ])('%j is refused, naming the YAML path', (yaml, message) => {
    const error = errorOf(yaml);
    expect(error).toContain(message);
    expect(error).not.toContain('hunter2');
  });
});
