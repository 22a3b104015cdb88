/**
 * docs/acl.md: a regex written in Go's syntax that JavaScript reads otherwise is refused saying
 * so. `[[:alpha:]]`, `\z` and `\pL` were; Go's inline flags (`(?i)`) and named groups (`(?P<u>…)`),
 * which docs/acl.md names too, got only V8's "Invalid group". Found by a review.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { configErrors } from '../helpers/config.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-go-regex-');
let keys: { keyPath: string; certPath: string };
beforeAll(async () => {
  keys = await writeSigningKey(tmp.dir);
});
afterAll(() => tmp.cleanup());

/** The load's errors as `path: message` lines; [] when it loads. */
const errorsOf = (yaml: string) => configErrors(yaml, tmp.dir);

test.each([
  ['/(?i)admin/', /\(\?i\) is a Go inline flag.*\[Aa\]/],
  ['/^(?P<u>.+)$/', /\(\?P<name>…\) is a Go named group: JavaScript writes \(\?<name>…\)/],
])('the Go-only regex %s in an ACL is refused saying it is Go syntax', (re, message) => {
  const errors = errorsOf(
    `token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nusers: {}\nacl:\n  - match: {account: "${re}"}\n    actions: [pull]\n`,
  );
  const line = errors.find((e) => e.startsWith('acl[0].match.account'));
  expect(line).toBeDefined();
  expect(line).toMatch(message);
});
