import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { save, servesIssuer, until, watchedService } from '../helpers/watch.js';

const tmp = tempDir('regauth-watch-recreated-');
afterAll(() => tmp.cleanup());

async function setup(name: string, fileName = 'config.yml') {
  const dir = join(tmp.dir, name);
  const configFile = join(dir, fileName);
  return { dir, configFile, ...(await watchedService(tmp.dir, name, configFile)) };
}

// `rm -rf /etc/regauth && mkdir /etc/regauth && cp …` (a config-management run). The reload it
// causes succeeds; a re-arm that kept the old watch (same realpath) left it on the deleted
// directory, which never reports again; and one kept by device:inode stayed on it when ext4 handed
// the new directory the same inode (seen with a file named like its directory). Every re-arm now
// makes new watches. Found by reviews.
test.each([
  ['recreated-ok', 'config.yml'],
  ['regauth', 'regauth'],
])(
  'a config directory deleted and made again (%s/%s): later saves still reload',
  async (name, fileName) => {
    const { dir, configFile, config, service } = await setup(name, fileName);
    try {
      rmSync(dir, { recursive: true });
      mkdirSync(dir);
      writeFileSync(configFile, config('v2'));
      await servesIssuer(service, 'v2');

      save(configFile, config('v3'));
      await servesIssuer(service, 'v3');
    } finally {
      await service.close(100);
    }
  },
  15_000,
);

test('a config directory deleted and made again empty: the reload fails, and writing the config then reloads', async () => {
  // The case re-arming after a failed reload was meant for: the fix written later must be seen.
  const { dir, configFile, config, log, service } = await setup('recreated-failed');
  try {
    rmSync(dir, { recursive: true });
    mkdirSync(dir);
    const failed = () => log.lines.some((l) => l.includes('config reload failed'));
    await until(failed, 3000);
    expect(failed()).toBe(true);

    save(configFile, config('v2'));
    await servesIssuer(service, 'v2');
  } finally {
    await service.close(100);
  }
}, 15_000);
