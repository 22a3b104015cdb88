import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { spawnRunner } from '../../src/ext/command.js';

// Found by a review of ext_auth / ext_authz: spawnRunner killed the command's process group
// (`process.kill(-child.pid, 'SIGKILL')`) again when the run failed (timeout, abort, shutdown),
// even when the command itself had exited (and been reaped) long before: the case where a
// leftover outside the group and without REGAUTH_EXT_RUN (setsid env -i …) keeps the pipes open,
// so 'close' never comes and the timer fires. By then the command's PID is free, and the kernel
// may have given it to another process leading its own group (another ext run regauth started,
// or any daemon): regauth SIGKILLed that group. Once 'exit' has been seen (the group killed
// then), no later signal goes to -pid. The PID's reuse is forced through
// /proc/sys/kernel/ns_last_pid (root in the PID namespace).

const dir = mkdtempSync(join(tmpdir(), 'regauth-ext-reused-pid-'));
const leftoverPid = join(dir, 'leftover.pid');
const commandPid = join(dir, 'command.pid');
const script = join(dir, 'escape.sh');
writeFileSync(
  script,
  `#!/bin/sh
echo $$ > "$2"
setsid env -i /bin/sh -c 'echo $$ > "$0"; exec sleep 20' "$1" &
while [ ! -s "$1" ]; do sleep 0.01; done
exit 0
`,
  { mode: 0o755 },
);

const victims: ChildProcess[] = [];
afterAll(() => {
  for (const v of victims) v.kill('SIGKILL');
  try {
    process.kill(Number(readFileSync(leftoverPid, 'utf8')), 'SIGKILL');
  } catch {
    // Gone.
  }
  rmSync(dir, { recursive: true, force: true });
});

const canSetLastPid = (() => {
  try {
    accessSync('/proc/sys/kernel/ns_last_pid', constants.W_OK);
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
})();

const alive = (pid: number) => {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** A process leading its own group, given PID `pid` (or undefined when another took it first). */
async function spawnWithPid(pid: number): Promise<ChildProcess | undefined> {
  for (let attempt = 0; attempt < 50; attempt++) {
    writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    victims.push(child);
    if (child.pid === pid) return child;
    child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 5));
  }
  return undefined;
}

test("a run that times out after its command exited does not signal the command's old PID's group", async () => {
  expect(canSetLastPid, 'the test runs as root, to give the PID to another process').toBe(true);
  const run = spawnRunner({
    command: script,
    args: [leftoverPid, commandPid],
    stdin: 'alice pw',
    timeoutMs: 2500,
  }).catch((e: unknown) => e);
  await expect
    .poll(() => existsSync(leftoverPid) && readFileSync(leftoverPid, 'utf8').trim() !== '')
    .toBe(true);
  const pid = Number(readFileSync(commandPid, 'utf8'));
  // The command has exited and node has reaped it: its PID is free.
  await expect.poll(() => alive(pid), { timeout: 2000 }).toBe(false);
  const victim = await spawnWithPid(pid);
  expect(victim, 'could not get the PID back for the victim').toBeDefined();
  let killedBy: NodeJS.Signals | null = null;
  victim!.on('exit', (_code, signal) => (killedBy = signal));
  // The run fails at its timeout (the escaped leftover holds the pipes): 503, as documented.
  expect(await run).toMatchObject({ name: 'CommandFailure', message: 'timed out after 2500 ms' });
  await new Promise((r) => setTimeout(r, 300));
  // The unrelated process that now has the PID must not have been killed by regauth.
  expect(killedBy).toBeNull();
  expect(alive(pid)).toBe(true);
}, 15_000);
