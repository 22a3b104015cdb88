import { expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { proxyChange } from '../helpers/replay-proxy.js';

/**
 * Found by an adversarial review. The audit line records the client address after trusted-proxy
 * resolution (`client.ip`) and the proxy it came through (`client.via`). replay re-decides with
 * `client.ip` whatever the new config's `server.trusted_proxies` says. A new config that no
 * longer trusts the proxy makes the server take the proxy's own address for the client (every
 * request through it): an `ip:` rule on the internal network then grants push to everyone behind
 * the proxy, and replay reports "no decision changes", exit 0.
 */
// Recorded behind our proxy (127.0.0.1, trusted): the client is 203.0.113.7. The new config no
// longer trusts the proxy.
const change = proxyChange('regauth-replay-untrusted-proxy-', { before: '127.0.0.1', after: '' });

test('the line holds the client behind the proxy (sanity)', () => {
  expect(change.oldClient).toEqual({ ip: '203.0.113.7', via: '127.0.0.1' });
});

test('the server running the new config grants push through the proxy (sanity)', () => {
  expect(change.grantedAfter).toEqual(['pull', 'push']);
});

test('replay reports the decision the untrusted proxy changes, as the server decides it', async () => {
  const run = await regauth(['replay', '--audit', change.audit, '-c', change.newFile, '--json']);
  const report = JSON.parse(run.stdout) as {
    changes: { after: { granted: string[] } }[];
    undetermined: unknown[];
  };
  // The new config takes the proxy (client.via) for the client: exactly what the server decides.
  expect(report.undetermined).toEqual([]);
  expect(report.changes.map((c) => c.after.granted)).toEqual([change.grantedAfter]);
  expect(run.code).toBe(1);
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
  ]);
  expect(run.stdout).not.toContain('no decision changes');
});
