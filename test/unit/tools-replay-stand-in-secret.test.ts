import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { regauth } from '../helpers/cli.js';

/**
 * Found by a review of 8738e14 (replay refreshRefused): "a new secret decrypts none of the tokens" compares
 * the two configs' token.refresh secrets as loaded. `regauth replay` loads each config with
 * loadForTool, which gives a config without secret_file (serve's development secret) or naming a
 * secret file that does not exist here (compose's /keys/refresh.key) a fresh random stand-in per
 * load. So -c X --against X (or any two such configs) differ in secret, and every recorded refresh
 * grant is reported as "lose access", where the server (one secret) honours them all.
 */
const tmp = tempDir('regauth-review-r10-');
afterAll(() => tmp.cleanup());
const aliceHash = hash(randomPassword());

const audit = join(tmp.dir, 'audit.log');
writeFileSync(
  audit,
  `${JSON.stringify({
    level: 30,
    time: '2026-12-01T10:00:00.000Z',
    requestId: 'r1',
    account: 'alice',
    client: { ip: '10.0.0.1' },
    grant: 'refresh_token',
    service: 'reg',
    authenticator: 'users',
    labels: {},
    decisions: [{ scope: 'repository:alice/app:pull', granted: ['pull'], rule: 0 }],
    msg: 'token issued',
  })}\n`,
);

const config = (refresh: string) => {
  const file = join(tmp.dir, `c-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(
    file,
    `token:\n  issuer: t\n  services: [reg]\n  refresh:${refresh}\n` +
      `users:\n  alice: {password: "${aliceHash}"}\n` +
      `acl:\n  - match: {account: "/.+/", name: "\${account}/**"}\n    actions: [pull]\n`,
  );
  return file;
};

test('no secret_file (development secret): the same config as -c and --against changes nothing', async () => {
  const file = config(' {}');
  const run = await regauth(['replay', '--audit', audit, '-c', file, '--against', file, '--json']);
  expect(JSON.parse(run.stdout).changes).toEqual([]);
  expect(run.code).toBe(0);
});

test('secret_file that exists only where regauth runs: the same config as -c and --against changes nothing', async () => {
  const file = config('\n    secret_file: /nonexistent-review-r10/refresh.key');
  const run = await regauth(['replay', '--audit', audit, '-c', file, '--against', file, '--json']);
  expect(JSON.parse(run.stdout).changes).toEqual([]);
  expect(run.code).toBe(0);
});

test('control: a real secret_file, same config both sides: no change', async () => {
  const secret = join(tmp.dir, 'refresh.key');
  writeFileSync(secret, 'x'.repeat(48));
  const file = config(`\n    secret_file: ${secret}`);
  const run = await regauth(['replay', '--audit', audit, '-c', file, '--against', file, '--json']);
  expect(JSON.parse(run.stdout).changes).toEqual([]);
  expect(run.code).toBe(0);
});
