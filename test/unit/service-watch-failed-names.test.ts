import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { save, servesIssuer, until, watchedService } from '../helpers/watch.js';

const tmp = tempDir('regauth-watch-failed-names-');
afterAll(() => tmp.cleanup());

const htpasswd = `alice:${bcrypt.hashSync('pw', 4)}\n`;
const refreshSecret = `${'x'.repeat(64)}\n`;

/**
 * regauth serving config v1; then config v2 (`refused(v2)`), which names a file it cannot load
 * yet: that reload fails; then `fix()` writes the file, which must reload v2.
 */
async function failThenFix(name: string, refused: (v2: string) => string, fix: () => void) {
  const configFile = join(tmp.dir, name, 'config.yml');
  const { config, service, failed } = await watchedService(tmp.dir, name, configFile);
  try {
    save(configFile, refused(config('v2')));
    await until(failed, 3000);
    expect(failed()).toBe(true);
    expect(service.runtime().config.token.issuer).toBe('v1');

    fix();
    await servesIssuer(service, 'v2');
  } finally {
    await service.close(100);
  }
}

/** The operator names a users file before writing it (in `usersDir`, made by the fix if missing). */
const usersFileLater = (name: string, usersDir: string) =>
  failThenFix(
    name,
    (v2) => `${v2}users_file: ${join(usersDir, 'users.htpasswd')}\n`,
    () => {
      mkdirSync(usersDir, { recursive: true });
      writeFileSync(join(usersDir, 'users.htpasswd'), htpasswd);
    },
  );

/** token.refresh.secret_file at `secretFile`, inserted into the config's token mapping. */
const withRefresh = (v2: string, secretFile: string) =>
  v2.replace('}\nacl', `, refresh: {secret_file: ${secretFile}}}\nacl`);

test('a file named only by a config whose reload failed is watched: writing it reloads', async () => {
  // Before, a failed reload re-armed the watches with the files of the config in use, which
  // does not name the new users file: writing it changed nothing until the config was saved
  // again or SIGHUP was sent.
  mkdirSync(join(tmp.dir, 'existing-dir-users'));
  await usersFileLater('existing-dir', join(tmp.dir, 'existing-dir-users'));
}, 15_000);

test('so is one in a directory that does not exist yet', async () => {
  await usersFileLater('missing-dir', join(tmp.dir, 'missing-dir-users', 'auth'));
}, 15_000);

test('so is a token.refresh.secret_file not written yet, and one too short then rewritten', async () => {
  // The refresh secret was noted as a watched file only once it had loaded. Found by a review.
  const missing = join(tmp.dir, 'refresh-missing.key');
  await failThenFix(
    'refresh-missing',
    (v2) => withRefresh(v2, missing),
    () => writeFileSync(missing, refreshSecret),
  );
  const short = join(tmp.dir, 'refresh-short.key');
  writeFileSync(short, 'short\n');
  await failThenFix(
    'refresh-short',
    (v2) => withRefresh(v2, short),
    () => writeFileSync(short, refreshSecret),
  );
}, 20_000);
