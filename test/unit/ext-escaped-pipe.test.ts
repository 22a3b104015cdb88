import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { spawnRunner } from '../../src/ext/command.js';

// Found by a review of ext_auth and ext_authz: when a run fails (timeout, abort, shutdown) while something the command left
// behind still holds its stdout/stderr, spawnRunner never closes its own ends of those pipes: they
// stay open (and read, into the discarded buffers) until the leftover exits. A command that
// leaves a long-lived process outside the group and without REGAUTH_EXT_RUN (documented as not
// found by the sweep) thus costs regauth two file descriptors per login for as long as the
// leftover lives; under steady traffic that ends in EMFILE for the whole server (every socket,
// file and spawn), not just this backend. Fix: destroy child.stdout/stderr/stdin in fail().
// Observable here without counting fds: once regauth has closed the read end, the leftover's next
// write to its stdout gets EPIPE/SIGPIPE and it ends; while regauth keeps the pipe open, it lives.

const dir = mkdtempSync(join(tmpdir(), 'regauth-review-ext-pipe-'));
const pidFile = join(dir, 'leftover.pid');
const script = join(dir, 'escape.sh');
// The leftover leaves the session/group (setsid) and drops the environment (env -i), keeping the
// command's stdout; it writes a line every 50 ms and dies (SIGPIPE, or exit on error) once the
// reading end is gone. It gives up by itself after 20 s so the test leaves nothing behind.
writeFileSync(
  script,
  `#!/bin/sh
setsid env -i /bin/sh -c 'echo $$ > "$0"; i=0; while [ $i -lt 400 ]; do echo x || exit 0; sleep 0.05; i=$((i+1)); done' "$1" &
while [ ! -s "$1" ]; do sleep 0.01; done
exit 0
`,
  { mode: 0o755 },
);
afterAll(() => {
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
  } catch {
    // Gone.
  }
  rmSync(dir, { recursive: true, force: true });
});

function isAlive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('a failed run closes its ends of the pipes, even while an escaped leftover holds the other ends', async () => {
  const abort = new AbortController();
  const run = spawnRunner({
    command: script,
    args: [pidFile],
    stdin: 'alice pw',
    timeoutMs: 30_000,
    signal: abort.signal,
  }).catch((e: unknown) => e);
  await expect
    .poll(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', { timeout: 10_000 })
    .toBe(true);
  const leftover = Number(readFileSync(pidFile, 'utf8'));
  expect(isAlive(leftover)).toBe(true);
  // The request goes away (or its timeout comes, or regauth shuts down): the run fails.
  abort.abort();
  expect(await run).toMatchObject({ name: 'CommandFailure', message: 'cancelled' });
  // regauth no longer holds the pipe: the leftover's next write fails and it ends.
  await expect.poll(() => isAlive(leftover), { timeout: 5000 }).toBe(false);
});
