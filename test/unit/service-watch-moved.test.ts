import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { save, servesIssuer, sleep, until, watchedService } from '../helpers/watch.js';

const tmp = tempDir('regauth-watch-moved-');
afterAll(() => tmp.cleanup());

async function setup(name: string) {
  const dir = join(tmp.dir, name);
  const configFile = join(dir, 'config.yml');
  return { dir, configFile, ...(await watchedService(tmp.dir, name, configFile)) };
}

test('a config directory renamed away and back (mv regauth regauth.bak; mv regauth.bak regauth): later saves still reload', async () => {
  // A watch that dropped itself when its directory went away, with a reload that failed (no
  // config at the path) and a re-arm that could not watch a missing directory: nothing ever
  // watched it again. A missing directory is now watched through its nearest ancestor.
  // Found by a review, as are the tests below.
  const { dir, configFile, config, service } = await setup('renamed-back');
  try {
    renameSync(dir, `${dir}.bak`);
    await sleep(600); // longer than the debounce (100 ms)
    renameSync(`${dir}.bak`, dir);
    await sleep(300);

    save(configFile, config('v2'));
    await servesIssuer(service, 'v2');
  } finally {
    await service.close(100);
  }
}, 15_000);

test('a config directory deleted, and made again after the failed reload: writing the config then reloads', async () => {
  // A config-management run slower than the debounce (rm -rf; … ; mkdir; template): the reload
  // fails, the re-arm could not watch the missing directory, and the new one was never watched.
  const { dir, configFile, config, service, failed } = await setup('recreated-late');
  try {
    rmSync(dir, { recursive: true });
    await until(failed, 3000);
    expect(failed()).toBe(true);
    mkdirSync(dir);
    writeFileSync(configFile, config('v2'));
    await servesIssuer(service, 'v2');
  } finally {
    await service.close(100);
  }
}, 15_000);

test('writing an unwatched file whose name is the directory basename does not reload', async () => {
  // /etc/stuff/config.yml with a neighbour /etc/stuff/stuff (a state file, a binary, a log):
  // every write to it was taken for "the directory itself went", and reloaded.
  const { dir, service, reloads } = await setup('stuff');
  try {
    for (let i = 0; i < 5; i++) {
      writeFileSync(join(dir, 'stuff'), `state ${i}\n`);
      await sleep(250);
    }
    await sleep(300);
    expect(reloads()).toBe(0);
  } finally {
    await service.close(100);
  }
}, 15_000);
