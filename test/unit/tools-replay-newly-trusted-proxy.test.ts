import { readFileSync, writeFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { proxyChange } from '../helpers/replay-proxy.js';

/**
 * Found by a review of `regauth replay`. The reverse of tools-replay-trusted-proxies: the log
 * was recorded while regauth did not trust the proxy in front of it (client.ip is the proxy's
 * address, client.via null); the new config adds it to server.trusted_proxies. The server then
 * decides every request through it for the client in X-Forwarded-For, which the audit line does
 * not hold: an `ip:` rule on the proxy's network no longer matches. replay re-decided with the
 * proxy's address as if nothing changed and reported "no decision changes", exit 0: a deployment
 * gate passed a change that takes push away from everyone behind the proxy. docs/cli.md: every
 * distinct decision is decided again with the new config, and what the line cannot tell is listed
 * under `not re-decided`, "never guessed"; a gate "must not pass on a log it could not read".
 */
// Recorded while the proxy was not trusted: the client is taken to be the proxy itself. The new
// config trusts it.
const change = proxyChange('regauth-replay-newly-trusted-', { before: '', after: '127.0.0.1' });

test('the line takes the proxy for the client (sanity)', () => {
  expect(change.oldClient).toEqual({ ip: '127.0.0.1', via: null });
});

test('the new config changes what the server grants the same request (sanity)', () => {
  expect(change.grantedBefore).toEqual(['pull', 'push']);
  expect(change.grantedAfter).toEqual(['pull']);
});

interface Report {
  changes: { after: { granted: string[] } }[];
  undetermined: unknown[];
}

test('replay does not pass the change as "no decision changes": changed as the server decides, or not re-decided', async () => {
  const run = await regauth(['replay', '--audit', change.audit, '-c', change.newFile, '--json']);
  const report = JSON.parse(run.stdout) as Report;
  const told =
    report.changes.some((c) => c.after.granted.join(',') === change.grantedAfter.join(',')) ||
    report.undetermined.length > 0;
  expect(told).toBe(true);
  expect(run.code).not.toBe(0);
  expect(JSON.stringify(report.undetermined)).toContain('trusts 127.0.0.1 as a proxy now');
});

test('an ACL with no rule on ip: the decision does not need the address, and is replayed', async () => {
  const file = change.newFile.replace(/new\.yml$/, 'no-ip.yml');
  writeFileSync(file, readFileSync(change.newFile, 'utf8').replace('ip: 127.0.0.0/8, ', ''));
  const run = await regauth(['replay', '--audit', change.audit, '-c', file, '--json']);
  const report = JSON.parse(run.stdout) as Report;
  expect(report.undetermined).toEqual([]);
  expect(report.changes).toEqual([]);
  expect(run.code).toBe(0);
});

test('--against the old config: the same', async () => {
  const run = await regauth([
    'replay',
    '--audit',
    change.audit,
    '-c',
    change.newFile,
    '--against',
    change.oldFile,
    '--json',
  ]);
  const report = JSON.parse(run.stdout) as Report;
  expect(report.changes.length + report.undetermined.length).toBeGreaterThan(0);
  expect(run.code).not.toBe(0);
});
