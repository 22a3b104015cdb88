/**
 * docs/configuration.md "Every key of docker_auth's reference config": token.key and
 * token.certificate left empty mean unset (8733e95). namedFiles, which serve and the tools read
 * first, still took them for a named key: `regauth serve` gave no development key and the load
 * failed saying serve would have made one, and `validate` skipped its stand-in for a server.key
 * of a container path. Found by a review of that change.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { HeldNotices, serviceLoader } from '../../src/service/load.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-devkey-');
afterAll(() => tmp.cleanup());

const config = (keys: string) =>
  `token:\n  issuer: t\n${keys}users: {}\nacl: [{match: {}, actions: [pull]}]\n`;

test.each([
  ['left empty (null)', '  key:\n  certificate:\n'],
  ['left empty ("")', '  key: ""\n  certificate: ""\n'],
])(
  'regauth serve loads a config whose token.key and token.certificate are %s, with the development key',
  async (name, keys) => {
    const file = join(tmp.dir, `serve-${name.replace(/\W/g, '')}.yml`);
    writeFileSync(file, config(keys));
    const data = join(tmp.dir, `data-${name.replace(/\W/g, '')}`);
    const loader = serviceLoader(file, data, new HeldNotices());
    const loaded = await loader.load().then(
      () => 'loaded',
      (e: unknown) => String((e as Error).message),
    );
    expect(loaded).toBe('loaded');
  },
);

test.each([['left empty (null)', '  key:\n  certificate:\n']])(
  'regauth validate accepts a config whose token.key and token.certificate are %s',
  async (name, keys) => {
    const file = join(tmp.dir, `validate-${name.replace(/\W/g, '')}.yml`);
    writeFileSync(file, config(keys));
    const run = await regauth(['validate', '-c', file]);
    expect({ code: run.code, error: run.stderr.includes('required') ? run.stderr : '' }).toEqual({
      code: 0,
      error: '',
    });
  },
);

test('validate checks with a stand-in the server.key a config signs with when token.key and token.certificate are "" (a container path), as when they are absent', async () => {
  const file = join(tmp.dir, 'server-key.yml');
  writeFileSync(
    file,
    'server:\n  certificate: /keys-not-here/tls.pem\n  key: /keys-not-here/tls.key\n' +
      config('  key: ""\n  certificate: ""\n'),
  );
  const run = await regauth(['validate', '-c', file]);
  expect({ code: run.code, standIn: run.stderr.includes('stand-in key') }).toEqual({
    code: 0,
    standIn: true,
  });
});
