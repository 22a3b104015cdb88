import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';

// docs/backends/ext.md: a command that cannot be started fails the request with 503. When regauth
// is out of file descriptors (a connection flood), child_process.spawn emits EMFILE and returns a
// child without its pipes: spawnRunner threw a TypeError instead of rejecting with CommandFailure,
// so the request got a 500, and its timer and abort listener stayed behind. Found by a review.
const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'regauth-ext-emfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('ext_authz that cannot be started for lack of file descriptors fails with BackendUnavailableError (503), not a TypeError (500)', () => {
  const probe = join(dir, 'probe.mts');
  writeFileSync(
    probe,
    `import { openSync, closeSync } from 'node:fs';
import { ExtAuthorizer } from ${JSON.stringify(join(ROOT, 'src/authz/ext.ts'))};
const authz = new ExtAuthorizer({ command: '/bin/true', args: [], timeoutMs: 2000, maxConcurrency: 4, maxPerClient: 4 });
const fds = [];
try { for (;;) fds.push(openSync('/dev/null', 'r')); } catch {}
for (let i = 0; i < 3; i++) closeSync(fds.pop());
let out;
try { out = await authz.authorize({ account: 'a', type: 'repository', name: 'x', service: 's', ip: null, labels: {}, actions: ['pull'] }); }
catch (e) { out = e.constructor.name; }
for (const fd of fds) closeSync(fd);
console.log(JSON.stringify(out));
`,
  );
  const run = spawnSync(
    'sh',
    ['-c', `ulimit -n 64; exec "$0" "$1"`, join(ROOT, 'node_modules/.bin/tsx'), probe],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toBe('BackendUnavailableError');
});
