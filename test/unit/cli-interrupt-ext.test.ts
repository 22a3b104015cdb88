/**
 * Found by a review of the external-program backends.
 * docs/backends/ext.md "What runs, and for how long": each run of a command is killed with its
 * process group when it exits, at its timeout and when regauth shuts down. The command leads a
 * session of its own (`detached`), so a signal to regauth's process group (Ctrl-C on a terminal,
 * `timeout 60 regauth check …` in CI, a job runner cancelling the step) never reaches it: only
 * regauth's own kill does.
 *
 * `regauth check` and `regauth test` run ext_authz (docs/cli.md). Interrupted (SIGINT, SIGTERM)
 * while a command runs, the CLI dies by the signal's default action: the timer that would have
 * killed the command died with it, nothing closes the runtime, and the command (with whatever it
 * started) runs on, detached, for as long as it likes: past its `timeout`, forever for one that
 * hangs. Fix: the tools' withRuntime (src/cli/tools.ts) closing the runtime on SIGINT/SIGTERM
 * before exiting, or the runner killing its live process groups on process exit.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = tempDir('regauth-review-ext-cli-int-');
const pids: number[] = [];
afterAll(() => {
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  tmp.cleanup();
});

/** True while a process exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test.each(['SIGINT', 'SIGTERM'] as const)(
  '`regauth test` stopped by %s while ext_authz runs leaves no command running',
  async (signal) => {
    const { keyPath, certPath } = await writeSigningKey(tmp.dir);
    const pidFile = join(tmp.dir, `${signal}.pid`);
    const script = join(tmp.dir, `authz-${signal}.sh`);
    writeFileSync(script, `#!/bin/sh\necho $$ > ${pidFile}\nsleep 30\nexit 0\n`, { mode: 0o755 });
    const config = join(tmp.dir, `config-${signal}.yml`);
    writeFileSync(
      config,
      `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nacl: []\next_authz: {command: ${script}, timeout: 60}\n`,
    );
    const tests = join(tmp.dir, `tests-${signal}.yml`);
    writeFileSync(tests, '- {account: alice, scope: "repository:x/app:pull", expect: [pull]}\n');
    const cli = spawn(process.execPath, [join(ROOT, 'dist/cli/main.js'), 'test', '-c', config, tests], {
      stdio: 'ignore',
    });
    const exited = new Promise((r) => cli.on('exit', r));
    await expect
      .poll(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', { timeout: 10_000 })
      .toBe(true);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    pids.push(pid);
    cli.kill(signal);
    await exited;
    // The command (and its `sleep`) should go with the CLI, not run on to its 30 s.
    await new Promise((r) => setTimeout(r, 1000));
    expect(isAlive(pid)).toBe(false);
  },
);
