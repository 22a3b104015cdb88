import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename, delimiter, join } from 'node:path';

/** How a process ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /** Merged over `process.env`; a key set to `undefined` removes that variable. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Polled until it returns true; the process counts as started then. Without it, started = spawned. */
  readyWhen?: () => Promise<boolean>;
  /** How long `readyWhen` may take to become true. */
  timeoutMs: number;
  /** Grace period between SIGTERM and SIGKILL in `stop()`. Default 5000. */
  stopTimeoutMs?: number;
  /** Name used in messages. Default: the command's base name. */
  name?: string;
}

/** A running peer process. Its output is kept in memory (the last MiB of each stream). */
export interface ProcessHandle {
  readonly name: string;
  readonly pid: number;
  /** Resolves when the process has exited, for whatever reason. */
  readonly exited: Promise<ExitStatus>;
  /** The exit status, or undefined while it runs. */
  exitStatus(): ExitStatus | undefined;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr interleaved in arrival order, for printing when a test fails. */
  logs(): string;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`. Safe to call more than once. */
  stop(): Promise<ExitStatus>;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed. Without it stdin is closed empty, so nothing can prompt. */
  input?: string;
  timeoutMs: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const MAX_OUTPUT_BYTES = 1024 * 1024;
// Debian keeps slapd and haproxy in /usr/sbin, which is not on a normal user's PATH.
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Keeps the last `max` bytes written to it. */
class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;
  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.max) {
      const first = this.chunks[0]!;
      const excess = this.size - this.max;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
        this.dropped += excess;
      }
    }
  }

  text(): string {
    const body = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped > 0 ? `[... ${this.dropped} bytes dropped ...]\n${body}` : body;
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

// A crashed test file must not leave registries and directories running after vitest exits.
function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

/**
 * Resolves a bare command name through PATH and then the sbin directories. A name with a
 * slash is returned as is. Throws when the command is not installed.
 */
export function findExecutable(name: string): string {
  if (name.includes('/')) return name;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  throw new Error(`${name} not found in PATH or ${SBIN_DIRS.join(', ')}; run scripts/test-peers.sh`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `fn` until it returns true. A throw from `fn` counts as "not yet"; the last one is
 * reported in the timeout error. Each attempt is cut off at the deadline, so a hanging probe
 * cannot outlive `timeoutMs`. Rejects at once with `signal.reason` when `signal` aborts.
 */
export async function waitFor(
  fn: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  options: { intervalMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const { intervalMs = 100, signal } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    signal?.throwIfAborted();
    const remaining = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const outcome = await Promise.race([
        Promise.resolve().then(fn),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), Math.max(remaining, 0));
        }),
      ]);
      if (outcome === true) return;
    } catch (err) {
      lastError = err;
    } finally {
      clearTimeout(timer);
    }
    signal?.throwIfAborted();
    if (Date.now() >= deadline) {
      const reason = lastError === undefined ? '' : `; last error: ${String(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`, { cause: lastError });
    }
    await sleep(Math.min(intervalMs, Math.max(deadline - Date.now(), 0)));
  }
}

/**
 * Starts a long-running peer and waits until `readyWhen` says it is ready. Rejects, with the
 * process output in the message, when it exits first or is not ready within `timeoutMs`; the
 * process is stopped in both cases.
 */
export async function startProcess(
  cmd: string,
  args: string[],
  options: StartOptions,
): Promise<ProcessHandle> {
  const name = options.name ?? basename(cmd);
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  const out = new OutputTail(MAX_OUTPUT_BYTES);
  const err = new OutputTail(MAX_OUTPUT_BYTES);
  const all = new OutputTail(MAX_OUTPUT_BYTES);

  const child = spawn(findExecutable(cmd), args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  child.stdout.on('data', (chunk: Buffer) => (out.push(chunk), all.push(chunk)));
  child.stderr.on('data', (chunk: Buffer) => (err.push(chunk), all.push(chunk)));

  let status: ExitStatus | undefined;
  const gone = new AbortController();
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exited = new Promise<ExitStatus>((resolve) => {
    const finish = (s: ExitStatus): void => {
      if (status) return;
      status = s;
      gone.abort(new Error(`${name} exited (${describeExit(s)}) before it was ready`));
      // 'close' comes once the output pipes are drained, so logs() is complete; but a forked
      // grandchild may hold them open, so do not wait for it long.
      void Promise.race([closed, sleep(1000)]).then(() => resolve(s));
    };
    child.once('exit', (code, signal) => finish({ code, signal }));
    child.once('error', (e) => {
      all.push(Buffer.from(`spawn error: ${e.message}\n`));
      finish({ code: null, signal: null });
    });
  });

  const logs = (): string => all.text();
  const stop = async (): Promise<ExitStatus> => {
    if (status) return status;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  const handle: ProcessHandle = {
    name,
    pid: child.pid ?? -1,
    exited,
    exitStatus: () => status,
    stdout: () => out.text(),
    stderr: () => err.text(),
    logs,
    stop,
  };

  const readyWhen = options.readyWhen;
  try {
    if (readyWhen) {
      await waitFor(readyWhen, options.timeoutMs, `${name} to be ready`, { signal: gone.signal });
    } else if (child.pid === undefined) {
      await exited;
      throw new Error(`${name} could not be started`);
    }
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- ${name} output ---\n${logs()}`, { cause: e });
  }
  return handle;
}

/** Runs a command to completion. Never throws on a non-zero exit; throws on a timeout or spawn failure. */
export function runCommand(cmd: string, args: string[], options: RunOptions): Promise<RunResult> {
  const name = basename(cmd);
  return new Promise((resolve, reject) => {
    const child = spawn(findExecutable(cmd), args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    trackChild(child);
    const out = new OutputTail(MAX_OUTPUT_BYTES);
    const err = new OutputTail(MAX_OUTPUT_BYTES);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    // Closed at once when there is no input, so a command that wants to prompt reads EOF.
    child.stdin.end(options.input);

    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${name}: ${e.message}`, { cause: e }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new Error(`${name} ${args.join(' ')} timed out after ${options.timeoutMs} ms\n${err.text()}`));
        return;
      }
      // A signal death gets the shell's 128+n convention, so `code` is always a number.
      resolve({ code: code ?? 128 + signalNumber(signal), stdout: out.text(), stderr: err.text() });
    });
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : osConstants.signals[signal];
}

function describeExit(s: ExitStatus): string {
  return s.signal ? `signal ${s.signal}` : `code ${String(s.code)}`;
}

/**
 * Stops a running peer with SIGSTOP: it keeps accepting connections but never answers. A peer
 * already stopped or replaced would leave the service answering: say so, never pass silently.
 */
export function pauseProcess(proc: ProcessHandle | undefined, name: string): void {
  if (!proc || proc.exitStatus() !== undefined)
    throw new Error(`${name} is not running:\n${proc?.logs() ?? ''}`);
  process.kill(proc.pid, 'SIGSTOP');
}

/** SIGCONT for a peer pauseProcess stopped; nothing when it is not running. */
export function resumeProcess(proc: ProcessHandle | undefined): void {
  if (proc && proc.exitStatus() === undefined) process.kill(proc.pid, 'SIGCONT');
}
