import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

/**
 * Found by an adversarial review. The `service` of a token request is whatever the client sends
 * (`?service=`); with no `token.services` every value is served and recorded in the audit line.
 * replay's text report prints it as it is (`(service X, from IP)`): any client, anonymous
 * included, puts terminal escape sequences and line breaks into the report the operator reads,
 * and can forge report lines ("lose access" entries that are not there, or hide real ones).
 * Names the tools print elsewhere are quoted with their invisible characters escaped
 * (quoteAccount); the JSON report escapes them too.
 */
const tmp = tempDir('regauth-review-tools6-esc-');
afterAll(() => tmp.cleanup());

const HOSTILE = 'registry\u001b[2K\r\n  alice repository:prod/api:pull,push: pull,push -> (nothing); forged';
const config =
  (actions: string) =>
  ({ keyPath, certPath }: { keyPath: string; certPath: string }) =>
    `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  "": {}
acl:
  - match: {account: ""}
    actions: ${actions}
`;

let audit = '';
let newFile = '';

beforeAll(async () => {
  const old = await startTestServer({ dir: tmp.dir, file: 'old.yml', config: config('[pull]') });
  try {
    const query = new URLSearchParams({ service: HOSTILE, scope: 'repository:public/x:pull' });
    const res = await fetch(`${old.url}/auth?${query.toString()}`);
    await res.arrayBuffer();
    expect(res.status).toBe(200);
  } finally {
    await old.server.close(100);
  }
  const lines = old.logs
    .join('')
    .split('\n')
    .filter((l) => l.includes('"decisions"'));
  expect(lines).toHaveLength(1);
  audit = join(tmp.dir, 'audit.log');
  writeFileSync(audit, `${lines[0]!}\n`);
  newFile = join(tmp.dir, 'new.yml');
  writeFileSync(
    newFile,
    config('[]')({ keyPath: join(tmp.dir, 'token.key'), certPath: join(tmp.dir, 'token.pem') }),
  );
});

test('the text report holds no control character from the audit line, and no forged line', async () => {
  const run = await regauth(['replay', '--audit', audit, '-c', newFile]);
  expect(run.code).toBe(1);
  // One real change: the anonymous pull. The report is plain lines of text.
  expect(run.stdout).toContain('1 decision change');
  expect(run.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  expect(run.stdout).not.toMatch(/^ {2}alice repository:prod\/api/m);
});
