import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

// Found by a review of ext_auth and ext_authz: an ext_auth / ext_authz argument holding a NUL byte (YAML "\0") loads, but
// node's spawn() refuses it with a TypeError (ERR_INVALID_ARG_VALUE) on every run: every login or
// scope the command is asked about becomes a 500 "internal error" at run time, where the docs
// promise the command is checked at load ("a clear config error naming the YAML path").
const tmp = tempDir('regauth-review-ext-nul-');
let keyLines = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  keyLines = `  key: ${keyPath}\n  certificate: ${certPath}\n`;
});
afterAll(() => tmp.cleanup());

const errors = (yaml: string): string[] => {
  try {
    loadConfigText(`token:\n  issuer: x\n${keyLines}${yaml}`, { file: join(tmp.dir, 'config.yml') });
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => e.message);
    throw err;
  }
  return [];
};

test.each(['ext_auth', 'ext_authz'])(
  '%s: an argument holding a NUL byte is a config error naming args',
  (section) => {
    const found = errors(`${section}: {command: sh, args: ["-c", "exit 0\\0"]}\n`);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^${section}\\.args`));
  },
);
