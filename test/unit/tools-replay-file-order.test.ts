import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by a review. `regauth replay --help` gives `--audit audit.log --audit audit.log.1.gz` (newest first, as a
 * shell glob `audit.log*` also orders them). Each distinct decision is compared with "the decision
 * as last recorded" (replay.ts: "The latest line wins"), and "last seen" is taken by `time`; but
 * the recorded decision kept is the one of the last line *read*, i.e. from the older, rotated
 * file. A config that changed between the two files then makes replay report a change against
 * the very config that produced the newest lines, exit 1: a deployment gate that fails (or, the
 * other way round, passes) on stale decisions.
 */
const tmp = tempDir('regauth-replay-order-');
afterAll(() => tmp.cleanup());

let current = '';
let newest = '';
let rotated = '';

const line = (time: string, granted: string[], rule: number) =>
  JSON.stringify({
    level: 30,
    time,
    requestId: `r-${time}`,
    method: 'GET',
    client: { ip: '127.0.0.1', via: null },
    outcome: 'granted',
    status: 200,
    grant: 'password',
    service: 'registry.test',
    account: 'alice',
    requested: ['repository:team/app:pull,push'],
    authenticator: 'users',
    granted: granted.length > 0 ? [`repository:team/app:${granted.join(',')}`] : [],
    decisions: [{ scope: 'repository:team/app:pull,push', granted, rule }],
    ms: 1,
    msg: 'token issued',
  });

beforeAll(async () => {
  const k = await writeSigningKey(tmp.dir);
  // The config running now (and when audit.log was written): alice pushes to team/app.
  current = join(tmp.dir, 'current.yml');
  writeFileSync(
    current,
    `token: {issuer: acme, key: ${k.keyPath}, certificate: ${k.certPath}, services: [registry.test]}
users:
  alice: {password: "${hash('x-pw')}", labels: {group: [devs]}}
acl:
  - match: {labels: {group: devs}, name: "team/**"}
    actions: [pull, push]
`,
  );
  // Last week's log, rotated, written under the old config (pull only).
  rotated = join(tmp.dir, 'audit.log.1.gz');
  writeFileSync(rotated, gzipSync(`${line('2026-01-01T10:00:00.000Z', ['pull'], 0)}\n`));
  // Today's log, written under the current config.
  newest = join(tmp.dir, 'audit.log');
  writeFileSync(newest, `${line('2026-01-08T10:00:00.000Z', ['pull', 'push'], 0)}\n`);
});

test('the current config replayed over newest-first logs changes nothing', async () => {
  const run = await regauth(['replay', '--audit', newest, '--audit', rotated, '-c', current, '--json']);
  const report = JSON.parse(run.stdout) as { changes: unknown[] };
  expect(report.changes).toEqual([]);
  expect(run.code).toBe(0);
});

test('the order of --audit files does not change the outcome', async () => {
  const a = await regauth(['replay', '--audit', newest, '--audit', rotated, '-c', current]);
  const b = await regauth(['replay', '--audit', rotated, '--audit', newest, '-c', current]);
  expect(a.code).toBe(b.code);
});
