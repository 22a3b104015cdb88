/**
 * What `npm run bench` (run.ts) and `npm run bench:compare` (compare.ts) share: the config a
 * cached token is measured with, the token request, starting a build's regauth and waiting for
 * it, and reading a process's CPU time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageNodeFlags } from '../test/helpers/image.js';

export const SERVICE = 'registry.bench';
export const SCOPE = 'repository:alice/app:pull,push';
/** The token request of the load tests: alice's own repository, pull and push. */
export const TOKEN_PATH = `/auth?service=${SERVICE}&scope=${encodeURIComponent(SCOPE)}`;

/**
 * The bench's config.yml: `users` (name → bcrypt hash), each in group `dev`, and an ACL of three
 * rules (an admin account, each account's own namespace, the dev group's `team/**`); `extra`
 * lines go before `users:`.
 */
export function benchConfig(options: {
  port: number;
  keyPath: string;
  certPath: string;
  users: ReadonlyMap<string, string>;
  extra?: readonly string[];
}): string {
  return [
    'server:',
    `  addr: "127.0.0.1:${options.port}"`,
    'token:',
    '  issuer: regauth-bench',
    `  key: ${options.keyPath}`,
    `  certificate: ${options.certPath}`,
    ...(options.extra ?? []),
    'users:',
    ...[...options.users].map(([u, hash]) => `  ${u}:\n    password: "${hash}"\n    labels: {group: [dev]}`),
    'acl:',
    '  - match: {account: admin}',
    '    actions: ["*"]',
    '  - match: {account: "/.+/", name: "${account}/**"}',
    '    actions: ["*"]',
    '  - match: {labels: {group: dev}, name: "team/**"}',
    '    actions: [pull, push]',
    '',
  ].join('\n');
}

/** Waits for /healthz; what the child writes to stderr until then goes into the error. */
/**
 * Starts `regauth serve -c configFile` from the build in `dir`, as the image starts it (node
 * with the flags of its Dockerfile's ENTRYPOINT), `nodeArgs` added; stderr piped, for
 * waitHealthy.
 */
export function spawnRegauth(
  dir: string,
  configFile: string,
  cwd: string,
  nodeArgs: readonly string[] = [],
): ChildProcess {
  return spawn(
    process.execPath,
    [...imageNodeFlags(dir), ...nodeArgs, join(dir, 'dist/cli/main.js'), 'serve', '-c', configFile],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd },
  );
}

export async function waitHealthy(url: string, child: ChildProcess): Promise<void> {
  let stderr = '';
  const keep = (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000));
  child.stderr?.on('data', keep);
  try {
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`regauth exited: ${stderr}`);
      try {
        if ((await fetch(`${url}/healthz`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`regauth did not start: ${stderr}`);
  } finally {
    child.stderr?.off('data', keep);
    // Read on and drop, so a process that logs to stderr never blocks on a full pipe.
    child.stderr?.resume();
  }
}

/** utime + stime in µs of a process, or of one of its threads (Linux /proc; 100 Hz ticks). */
export function cpuMicros(pid: number, thread?: number): number {
  const stat = readFileSync(
    thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`,
    'utf8',
  );
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * Starts measuring a server process: the function returned gives the CPU per token spent since,
 * by the whole process and by its event-loop thread (the one that bounds tokens/s), in µs.
 */
export function cpuMeter(pid: number): (tokens: number) => { cpuUs: number; loopUs: number } {
  const cpu = cpuMicros(pid);
  const loop = cpuMicros(pid, pid);
  return (tokens) => {
    const n = Math.max(1, tokens);
    return { cpuUs: (cpuMicros(pid) - cpu) / n, loopUs: (cpuMicros(pid, pid) - loop) / n };
  };
}

/**
 * Requests each server answers before its figures count. A server just started runs its first
 * tens of thousands of requests through code V8 has not optimised yet, while V8's helper threads
 * compile it; regauth has far more such code than the baseline. V8 optimises code by how often it
 * runs, not by how long the server has been up, so the warm-up is counted in requests, the same
 * on a slow machine as on a fast one. On the AMD machine regauth's compiling settled after about
 * 50,000 requests; twice that leaves a margin (docs/performance.md "Warming up by requests").
 */
export const WARMUP_REQUESTS = 100_000;

/** A progress line on stderr (stdout is the report). */
export function log(text: string): void {
  process.stderr.write(`${text}\n`);
}
