/**
 * Found by a review of config reloads: docs/operations.md said every lockout key but
 * max_entries applies on reload and the counts outlive reloads. A pair's count and lock are kept
 * under its client, and an IPv6 client is its network of `ipv6_prefix` bits: once a reload changes
 * the prefix, every IPv6 client is another client, its locks and counts under the old prefix no
 * longer apply (widened during an attack from many /64s, it lifted the attacker's locks too). Said
 * now: the docs, and a warning when a reload changes the prefix.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { TooManyRequestsError } from '../../src/core/errors.js';
import { Lockout } from '../../src/guard/lockout.js';
import { startService } from '../../src/service/service.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { LOCKOUT_POLICY } from '../helpers/lockout.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-reload-ipv6-prefix-');
afterAll(() => tmp.cleanup());

test('a reload that changes lockout.ipv6_prefix warns that IPv6 clients are counted anew', async () => {
  const keys = await writeSigningKey(tmp.dir);
  const configFile = join(tmp.dir, 'config.yml');
  const config = (lockout: string) =>
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nacl: []\nlockout: {${lockout}}\n`;
  writeFileSync(configFile, config('max_failures: 5'));
  const log = logSink();
  const service = await startService({
    configFile,
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watch: false,
  });
  const warnings = () =>
    log.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['level'] === 40 && !String(l['msg']).startsWith('config warning: '))
      .map((l) => ({ key: l['key'], msg: l['msg'] }));
  try {
    // Another lockout key: applied, nothing to say.
    writeFileSync(configFile, config('max_failures: 6'));
    await service.reload();
    expect(warnings()).toEqual([]);
    writeFileSync(configFile, config('max_failures: 6, ipv6_prefix: 48'));
    await service.reload();
    expect(service.runtime().config.lockout.ipv6_prefix).toBe(48);
    // Before: no warning at all.
    expect(warnings()).toEqual([
      {
        key: 'lockout.ipv6_prefix',
        msg: 'lockout.ipv6_prefix changed from 64 to 48: IPv6 clients are counted anew, their failure counts and locks under the old prefix no longer apply',
      },
    ]);
  } finally {
    await service.close(100);
  }
});

test('what the warning says: a lock kept under the old prefix does not hold under the new one', async () => {
  let policy = { ...LOCKOUT_POLICY, ipv6_prefix: 64, max_failures: 1, backoff: 300, max_backoff: 300 };
  const lockout = new Lockout({ maxEntries: 100, policy: () => policy });
  const ip = '2001:db8:1:2::5';
  await lockout.failure('alice', ip);
  await expect(lockout.check('alice', ip)).rejects.toBeInstanceOf(TooManyRequestsError);
  policy = { ...policy, ipv6_prefix: 48 };
  await expect(lockout.check('alice', ip)).resolves.toBeUndefined();
});
