import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { save, servesIssuer, until, watchedService } from '../helpers/watch.js';

const tmp = tempDir('regauth-watch-failed-names-');
afterAll(() => tmp.cleanup());

const htpasswd = `alice:${bcrypt.hashSync('pw', 4)}\n`;

async function failThenCreate(name: string, usersDir: string) {
  const configFile = join(tmp.dir, name, 'config.yml');
  const { config, service, failed } = await watchedService(tmp.dir, name, configFile);
  const usersFile = join(usersDir, 'users.htpasswd');
  try {
    // The operator names a users file before writing it: this reload fails.
    save(configFile, `${config('v2')}users_file: ${usersFile}\n`);
    await until(failed, 3000);
    expect(failed()).toBe(true);
    expect(service.runtime().config.token.issuer).toBe('v1');

    // Writing the file the failed config names is the fix, and must be seen as one.
    mkdirSync(usersDir, { recursive: true });
    writeFileSync(usersFile, htpasswd);
    await servesIssuer(service, 'v2');
  } finally {
    await service.close(100);
  }
}

test('a file named only by a config whose reload failed is watched: writing it reloads', async () => {
  // Before, a failed reload re-armed the watches with the files of the config in use, which
  // does not name the new users file: writing it changed nothing until the config was saved
  // again or SIGHUP was sent.
  mkdirSync(join(tmp.dir, 'existing-dir-users'));
  await failThenCreate('existing-dir', join(tmp.dir, 'existing-dir-users'));
}, 15_000);

test('so is one in a directory that does not exist yet', async () => {
  await failThenCreate('missing-dir', join(tmp.dir, 'missing-dir-users', 'auth'));
}, 15_000);
