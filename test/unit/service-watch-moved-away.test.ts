import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { servesIssuer, sleep, until, watchedService } from '../helpers/watch.js';

const tmp = tempDir('regauth-watch-moved-away-');
afterAll(() => tmp.cleanup());

test('a config directory moved away (mv regauth regauth.old) and a new one made: its config reloads', async () => {
  // The usual directory swap (mv conf conf.old; mv conf.new conf, or mv + mkdir + template).
  // The watch on the directory follows the moved inode; its only event names the directory
  // itself, which the name filter dropped: no reload, no re-arm, the new directory was never
  // watched. Found by a review, as below.
  const dir = join(tmp.dir, 'moved');
  const configFile = join(dir, 'config.yml');
  const { config, service } = await watchedService(tmp.dir, 'moved', configFile, dir);
  try {
    renameSync(dir, `${dir}.old`);
    await sleep(600);
    mkdirSync(dir);
    writeFileSync(configFile, config('v2'));
    await servesIssuer(service, 'v2');
  } finally {
    await service.close(100);
  }
}, 15_000);

test('a symlinked config directory whose release is deleted and made again: its config reloads', async () => {
  // current -> releases/42; rm -rf releases/42 (the reload fails), then releases/42 made again.
  // The re-arm found current/ "missing" (dangling link) and watched the parent for "current",
  // whose entry never changes: creating the link's target was never seen.
  const release = join(tmp.dir, 'releases', '42');
  const link = join(tmp.dir, 'current');
  mkdirSync(release, { recursive: true });
  symlinkSync(release, link);
  const { config, service, failed } = await watchedService(
    tmp.dir,
    'linked',
    join(link, 'config.yml'),
    release,
  );
  try {
    rmSync(release, { recursive: true });
    await until(failed, 3000);
    expect(failed()).toBe(true);
    mkdirSync(release);
    writeFileSync(join(release, 'config.yml'), config('v2'));
    await servesIssuer(service, 'v2');
  } finally {
    await service.close(100);
  }
}, 15_000);
