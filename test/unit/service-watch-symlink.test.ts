import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';
import { servesIssuer, until } from '../helpers/watch.js';

const tmp = tempDir('regauth-watch-symlink-');
afterAll(() => tmp.cleanup());

test('after a swapped release whose config failed to load, fixing that config in place reloads', async () => {
  // current -> releases/1; the deploy swaps current -> releases/2, whose config.yml is broken:
  // the reload fails and keeps releases/1's config. The watches were re-armed only after a
  // successful reload, so the watch on current/ still followed releases/1, and the operator's
  // fix of current/config.yml (now in releases/2) was never loaded. Found by a review.
  const keys = await writeSigningKey(tmp.dir);
  const config = (issuer: string) =>
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: ${issuer}, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nacl: []\n`;
  for (const release of ['1', '2']) mkdirSync(join(tmp.dir, 'releases', release), { recursive: true });
  writeFileSync(join(tmp.dir, 'releases', '1', 'config.yml'), config('r1'));
  writeFileSync(join(tmp.dir, 'releases', '2', 'config.yml'), 'acl: [\n');
  const current = join(tmp.dir, 'current');
  symlinkSync(join(tmp.dir, 'releases', '1'), current);

  const log = logSink();
  const service = await startService({
    configFile: join(current, 'config.yml'),
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watchDebounceMs: 100,
  });
  try {
    expect(service.runtime().config.token.issuer).toBe('r1');
    symlinkSync(join(tmp.dir, 'releases', '2'), `${current}.new`);
    renameSync(`${current}.new`, current);
    const failed = () => log.lines.some((l) => l.includes('config reload failed'));
    await until(failed, 3000);
    expect(failed()).toBe(true);

    // The fix, written in place (an editor's save) in the release current points at.
    writeFileSync(join(current, 'config.yml.tmp'), config('r2'));
    renameSync(join(current, 'config.yml.tmp'), join(current, 'config.yml'));
    await servesIssuer(service, 'r2');
  } finally {
    await service.close(100);
  }
}, 15_000);
