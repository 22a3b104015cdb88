import { spawn } from 'node:child_process';
import { BackendUnavailableError } from '../errors.js';

/** How an external command ended. `code` is null when it was killed by a signal. */
export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunRequest {
  readonly command: string;
  readonly args: readonly string[];
  /** Written to the command's stdin, then stdin is closed. The only channel for credentials. */
  readonly stdin: string;
  /** The command is killed (with its process group) after this long. */
  readonly timeoutMs: number;
}

/**
 * Runs one external command (`ext_auth`, `ext_authz`). Injected so tests can fake it; the real one
 * is {@link spawnRunner}. Rejects with {@link CommandFailure} when the command cannot be started,
 * times out or writes too much; resolves with its exit status otherwise.
 */
export type CommandRunner = (request: RunRequest) => Promise<CommandResult>;

/** The command could not give an answer: not started, timed out, too much output. Never holds stdin. */
export class CommandFailure extends Error {
  override readonly name = 'CommandFailure';
}

/** The most stdout or stderr kept from one run; more is a failure (a runaway command). */
export const MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * The real runner: `child_process.spawn` without a shell, so `args` are passed verbatim and
 * nothing in them is interpreted. The child gets regauth's environment (docker_auth does the
 * same, and scripts rely on it) but never a credential: those go on stdin only.
 *
 * The child leads its own process group so a timeout kills the whole group: a shell script
 * stuck in `sleep` would otherwise keep its pipes open after the shell is killed. The group is
 * also killed when the command exits, so nothing it started in the background outlives it.
 */
export const spawnRunner: CommandRunner = (request) =>
  new Promise((resolve, reject) => {
    let settled = false;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    const child = spawn(request.command, [...request.args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      windowsHide: true,
    });
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const fail = (message: string, cause?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      kill();
      reject(new CommandFailure(message, { cause }));
    };
    const timer = setTimeout(() => fail(`timed out after ${request.timeoutMs} ms`), request.timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => fail(`cannot run: ${err.code ?? err.message}`, err));
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > MAX_OUTPUT_BYTES) return fail(`wrote more than ${MAX_OUTPUT_BYTES} bytes on stdout`);
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      errBytes += chunk.length;
      // stderr is only kept for the log; past the cap it is dropped, not an error.
      if (errBytes <= MAX_OUTPUT_BYTES) stderr.push(chunk);
    });
    // A command that exits without reading its stdin makes the write fail with EPIPE: not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(request.stdin);
    // The command itself has exited: what it left in its group goes too (a leftover holding the
    // pipes open would otherwise keep 'close' from firing until the timeout).
    child.on('exit', kill);
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    // Don't keep a CLI process alive for a detached child.
    child.unref();
  });

/**
 * Bounds how many commands run at once. A caller waiting for a slot longer than `timeoutMs`
 * gets a CommandFailure, so a flood of requests against a slow command cannot pile up unbounded.
 */
export function limitConcurrency(runner: CommandRunner, max: number): CommandRunner {
  if (!Number.isInteger(max) || max < 1) throw new TypeError('"max" must be a positive integer');
  let running = 0;
  const waiting: (() => void)[] = [];
  // A finishing run hands its slot straight to the next waiter, so a newcomer cannot overtake it.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return async (request) => {
    const started = Date.now();
    if (running < max) running++;
    else {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          const i = waiting.indexOf(wake);
          if (i >= 0) waiting.splice(i, 1);
          reject(new CommandFailure(`no free slot within ${request.timeoutMs} ms (${max} already running)`));
        }, request.timeoutMs);
        waiting.push(wake);
      });
    }
    try {
      const left = Math.max(1, request.timeoutMs - (Date.now() - started));
      return await runner({ ...request, timeoutMs: left });
    } finally {
      release();
    }
  };
}

/** A short description of an exit, for logs and errors: `exit 3`, `signal SIGSEGV`. */
export function describeExit(result: CommandResult): string {
  return result.code !== null ? `exit ${result.code}` : `signal ${result.signal ?? 'unknown'}`;
}

/** What `ext_auth` / `ext_authz` configure: the command, its arguments, timeout and concurrency. */
export interface CommandSettings {
  readonly command: string;
  readonly args: readonly string[];
  readonly timeoutMs: number;
  readonly maxConcurrency: number;
}

/**
 * The configured command of one backend, ready to run with a given stdin: at most
 * `maxConcurrency` runs at once, and a run that cannot answer (not started, timed out, too much
 * output) becomes BackendUnavailableError, so the request fails closed with 503.
 */
export function backendCommand(
  backend: string,
  settings: CommandSettings,
  runner: CommandRunner = spawnRunner,
): (stdin: string) => Promise<CommandResult> {
  const run = limitConcurrency(runner, settings.maxConcurrency);
  return async (stdin) => {
    try {
      return await run({
        command: settings.command,
        args: settings.args,
        stdin,
        timeoutMs: settings.timeoutMs,
      });
    } catch (err) {
      if (err instanceof CommandFailure)
        throw new BackendUnavailableError(backend, err.message, { cause: err });
      throw err;
    }
  };
}
