import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by a review of the operator tools. `regauth replay` prints two values it read from an
 * audit line with JSON.stringify only, which escapes the ASCII controls but leaves the C1
 * controls (U+009B is CSI: a terminal reads `\u009b2J` as "erase the screen") and the bidi
 * controls (U+202E shows the rest of the line reversed) as they are:
 * - the recorded rule's `comment` (describeRule for the "before" side of a change);
 * - a decision's `scope` that is no scope, quoted in the `malformed:` list.
 *
 * src/tools/replay.ts says of the values read from a line (`shown`): "quoted with every control
 * and invisible character escaped … a terminal must not read them as its own controls (a line
 * erased, a report line forged)", and the brief for replay includes logs "with malicious
 * content"; docs/operations.md explains that JSON's escaping is not enough for exactly these
 * characters (U+009B, U+202E), and the server's own log writes them as `\uXXXX`. Replay turns
 * them back into raw characters (JSON.parse) and prints them to the terminal.
 *
 * Suggested fix: print the recorded comment and the malformed scope with `shown()`/quoteAccount
 * (every \p{Cc}, \p{Cf}, … escaped), as the account, service and scope are.
 */
const tmp = tempDir('regauth-review-replay-controls-');
let configFile = '';

beforeAll(async () => {
  const k = await writeSigningKey(tmp.dir);
  configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `token: {issuer: t, key: ${k.keyPath}, certificate: ${k.certPath}}
users:
  "": {}
acl: []
`,
  );
});
afterAll(() => tmp.cleanup());

const line = (scope: string, comment: string) =>
  JSON.stringify({
    level: 30,
    time: '2026-12-07T06:42:59.842Z',
    requestId: 'r1',
    method: 'GET',
    client: { ip: '10.1.2.3', via: null },
    outcome: 'granted',
    status: 200,
    grant: 'password',
    service: '',
    account: '',
    requested: [scope],
    authenticator: 'users',
    granted: [scope],
    decisions: [{ scope, granted: ['pull'], rule: 0, comment }],
    ms: 1,
    msg: 'token issued',
  });

// Characters a terminal acts on, which JSON.stringify leaves as they are.
const RAW = /[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/;

test('a recorded comment is not printed with raw C1 or bidi controls', async () => {
  const stdin = `${line('repository:x/y:pull', 'ok\u009b2J\u202eeslaf')}\n`;
  const run = await regauth(['replay', '--audit', '-', '-c', configFile], stdin);
  expect(run.stdout).toContain('lose access'); // the line was replayed (pull -> nothing)
  expect(run.stdout).not.toMatch(RAW);
});

test('a malformed scope is not printed with raw C1 or bidi controls', async () => {
  const stdin = `${line('repository:x/\u009b2J\u202eevil:pull', 'c')}\n${line('repository:x/y:pull', 'c')}\n`;
  const run = await regauth(['replay', '--audit', '-', '-c', configFile], stdin);
  expect(run.stdout).toContain('is not a scope');
  expect(run.stdout).not.toMatch(RAW);
});
