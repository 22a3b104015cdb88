/**
 * Found by a review of the static backends (src/authn/users-config.ts): `users:` is asked before
 * `users_file`, and a `users:` account without `password` accepts any password. An entry meant to
 * label an htpasswd account (`alice: {labels: …}`) therefore replaced it, and alice logged in with
 * any password; a hash left in `users:` from before a move to the file hid the file's line, so
 * `htpasswd -B file bob` changed nothing. An account is now in one of them, or the load is refused.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-users-in-both-');
const htpasswd = join(tmp.dir, 'htpasswd');
let keyLines = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  keyLines = `  key: ${keyPath}\n  certificate: ${certPath}\n`;
  writeFileSync(
    htpasswd,
    `alice:${hash(randomPassword())}\nbob:${hash(randomPassword())}\ncarol:${hash(randomPassword())}\n`,
  );
});
afterAll(() => tmp.cleanup());

function errorsOf(yaml: string): string[] {
  try {
    loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => `line ${e.line}: ${e.message}`);
    throw err;
  }
  return [];
}

test('an account in users: and in users_file is refused, each by its line, whatever its entry', () => {
  const errors = errorsOf(`token:
  issuer: t
${keyLines}users:
  alice:
    labels: {group: [admins]}
  bob:
    password: "${hash(randomPassword())}"
  dave: {}
users_file: ${htpasswd}
`);
  expect(errors).toEqual([
    `line 6: users.alice: also in users_file (${htpasswd}); users: is asked first, so this entry (no password: any password logs in) would replace the file's line; keep the account in one of them`,
    `line 8: users.bob: also in users_file (${htpasswd}); users: is asked first, so this entry would replace the file's line; keep the account in one of them`,
  ]);
});

// Names that fold alike (Alice, alice) are refused apart: config-users-fold-alike.test.ts.
test('accounts in one of them load', () => {
  expect(
    errorsOf(`token:
  issuer: t
${keyLines}users:
  erin: {}
  dave: {password: "${hash(randomPassword())}"}
users_file: ${htpasswd}
`),
  ).toEqual([]);
});
