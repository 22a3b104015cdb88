import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { BackendUnavailableError, CancelledError, TooManyRequestsError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { escapeRegex } from '../core/regex.js';
import type { Readable, Writable } from 'node:stream';

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
  /** Aborting kills the command (or gives up its wait for a slot): the run fails with CommandFailure. */
  readonly signal?: AbortSignal;
  /** Who the run is for (the client address), for the per-client bound of {@link limitConcurrency}. */
  readonly client?: string;
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
  /** What the command wrote on stderr before it failed (for the log). */
  readonly stderr: string;
  constructor(message: string, options?: { cause?: unknown; stderr?: string }) {
    super(message, options);
    this.stderr = options?.stderr ?? '';
  }
}

/** The most stdout or stderr kept from one run; more is a failure (a runaway command). */
export const MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * The environment variable that marks every process a run starts, with a value unique to the
 * run: descendants inherit it, so what escaped the run's process group and session (`setsid`)
 * is still found and killed once the run is over (see {@link sweepLeftovers}).
 */
export const RUN_MARKER = 'REGAUTH_EXT_RUN';
const markerPrefix = `${randomUUID()}-`;
let runs = 0;

/**
 * The real runner: `child_process.spawn` without a shell, so `args` are passed verbatim and
 * nothing in them is interpreted. The child gets regauth's environment (docker_auth does the
 * same, and scripts rely on it), plus {@link RUN_MARKER}, but never a credential: those go on
 * stdin only.
 *
 * The child leads its own session and process group (`detached`), and the whole group is
 * killed when the command exits, at its timeout and when the run is aborted (shutdown), so a
 * shell script stuck in `sleep`, or anything it started in the background, goes with it. A
 * process that left the group (`setsid`, a daemon) is found by its {@link RUN_MARKER} in
 * /proc and killed right after; only one that also dropped its environment escapes.
 */
export const spawnRunner: CommandRunner = (request) =>
  new Promise((resolve, reject) => {
    let settled = false;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    const marker = `${markerPrefix}${++runs}`;
    if (request.signal?.aborted) {
      reject(new CommandFailure('cancelled'));
      return;
    }
    let child: ChildProcessByStdio<Writable, Readable, Readable>;
    try {
      child = spawn(request.command, [...request.args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
        windowsHide: true,
        env: { ...process.env, [RUN_MARKER]: marker },
      });
    } catch (err) {
      // node reports only some failures to start as an 'error' event (ENOENT, EACCES, EAGAIN,
      // EMFILE, ENFILE); the others (ETXTBSY while the script is being rewritten, ELOOP, ENOMEM
      // from fork, E2BIG) it throws here: the same failure to start.
      const code = (err as NodeJS.ErrnoException).code;
      reject(new CommandFailure(`cannot run: ${code ?? 'the command could not be started'}`, { cause: err }));
      return;
    }
    let swept = false;
    /**
     * The command has exited and its group was killed then. Its PID is free once the group is
     * empty, and may be another process's (another run's group leader) by the time the run fails
     * (a leftover outside the group holding the pipes until the timeout): no signal goes to it.
     */
    let exited = false;
    const kill = () => {
      try {
        if (child.pid !== undefined && !exited) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      if (!swept && child.pid !== undefined) {
        swept = true;
        scheduleSweep(marker);
      }
    };
    const stderrText = () => {
      const kept = Buffer.concat(stderr);
      // Past the cap the text ends where a chunk did, maybe inside the password, whose head no
      // longer matches it to be blanked out: the line the cut went through is dropped.
      return (errBytes > MAX_OUTPUT_BYTES ? kept.subarray(0, kept.lastIndexOf(0x0a) + 1) : kept).toString(
        'utf8',
      );
    };
    const fail = (message: string, cause?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      kill();
      // Our ends of the pipes go now: a leftover that escaped the kill and the sweep (its own
      // session, its environment dropped) would otherwise hold them, two descriptors per run, for
      // as long as it lives.
      child.stdin?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
      reject(new CommandFailure(message, { cause, stderr: stderrText() }));
    };
    const onAbort = () => fail('cancelled');
    request.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => fail(`timed out after ${request.timeoutMs} ms`), request.timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => fail(`cannot run: ${err.code ?? err.message}`, err));
    // Out of file descriptors (EMFILE), node gives a child without its pipes (and its 'error' comes
    // later): the run fails as one that cannot start, not with a TypeError.
    const pipes = child as { stdin: unknown; stdout: unknown; stderr: unknown };
    if (!pipes.stdin || !pipes.stdout || !pipes.stderr) {
      fail('cannot run: its pipes could not be made (out of file descriptors?)');
      return;
    }
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
    child.on('exit', () => {
      kill();
      exited = true;
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: stderrText(),
      });
    });
    // Don't keep a CLI process alive for a detached child.
    child.unref();
  });

/** Markers of finished runs whose leftovers the next sweep kills. */
let pendingMarkers = new Set<string>();
let sweeping: Promise<void> | undefined;
/** The shortest time between two sweeps: under a flood of runs, one sweep serves many. */
const SWEEP_INTERVAL_MS = 100;

/** Kills, soon, every process still marked with `marker` (one sweep serves every run that ended meanwhile). */
function scheduleSweep(marker: string): void {
  pendingMarkers.add(marker);
  sweeping ??= (async () => {
    while (pendingMarkers.size > 0) {
      // Let the runs that end at about the same time join this sweep.
      await new Promise((r) => setTimeout(r, SWEEP_INTERVAL_MS));
      const markers = pendingMarkers;
      pendingMarkers = new Set();
      // Until a pass finds nothing: a leftover may have forked while the previous pass ran.
      for (let pass = 0; pass < 3 && sweepLeftovers(markers) > 0; pass++);
    }
    sweeping = undefined;
  })();
}

/** Resolves once the leftovers of every run that has ended are killed. */
export async function leftoversSwept(): Promise<void> {
  while (sweeping) await sweeping;
}

/**
 * Kills every process (of this user: others' environments cannot be read) whose
 * {@link RUN_MARKER} is one of `markers`; returns how many. Linux only: without /proc it finds
 * nothing, and a command's process group is all that is killed. Synchronous on purpose: a few
 * milliseconds for a few hundred processes, where as many asynchronous reads would fill libuv's
 * thread pool, which file reads and DNS lookups need too.
 */
export function sweepLeftovers(markers: ReadonlySet<string>): number {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return 0;
  }
  const prefix = `${RUN_MARKER}=`;
  let killed = 0;
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    // The variable starts the environment or follows a NUL (not the tail of another name).
    const inner = environ.indexOf(`\0${prefix}`);
    const at = environ.startsWith(prefix) ? 0 : inner < 0 ? -1 : inner + 1;
    if (at < 0) continue;
    const end = environ.indexOf('\0', at);
    const value = environ.slice(at + prefix.length, end < 0 ? undefined : end);
    if (!markers.has(value)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      killed++;
    } catch {
      // Gone meanwhile.
    }
  }
  return killed;
}

/** How long a client refused by the per-client bound is asked to wait (Retry-After). */
const CLIENT_BUSY_RETRY_SECONDS = 1;

/**
 * The runs of one backend's command in flight and those waiting for a slot, kept for the
 * process's life (RuntimeDeps.commandSlots): a reload's new config counts from them, so the runs
 * the previous config started (which go on until they end or its grace period does) still take
 * their slots, and no reload adds any.
 */
export class CommandSlots {
  running = 0;
  /** FIFO; each waiter is admitted once fewer than its own config's bound run. */
  readonly waiting: { readonly max: number; readonly wake: () => void }[] = [];
  /** Runs in flight per client (only clients with at least one). */
  readonly perClient = new Map<string, number>();

  /** Lets waiters in, first come first, while fewer than the first one's bound run. */
  admit(): void {
    for (let next = this.waiting[0]; next && this.running < next.max; next = this.waiting[0]) {
      this.waiting.shift();
      this.running++;
      next.wake();
    }
  }
}

/**
 * Bounds how many commands run at once. A caller waiting for a slot longer than `timeoutMs`
 * gets a CommandFailure, so a flood of requests against a slow command cannot pile up unbounded.
 * A caller whose `signal` aborts while it waits leaves the queue at once.
 *
 * One client (`request.client`) may have at most `maxPerClient` runs in flight, running or
 * waiting; past it the run is refused at once with TooManyRequestsError (429, Retry-After), so a
 * single address cannot fill the queue and starve everyone else.
 *
 * The counts are `slots`' (by default its own): runs under every config generation that shares
 * them count against each one's bounds.
 */
export function limitConcurrency(
  runner: CommandRunner,
  max: number,
  maxPerClient = max,
  slots: CommandSlots = new CommandSlots(),
): CommandRunner {
  if (!Number.isInteger(max) || max < 1) throw new TypeError('"max" must be a positive integer');
  if (!Number.isInteger(maxPerClient) || maxPerClient < 1)
    throw new TypeError('"maxPerClient" must be a positive integer');
  const { perClient } = slots;
  // A finishing run's slot goes to the waiters first, so a newcomer cannot overtake them.
  const release = () => {
    slots.running--;
    slots.admit();
  };
  const limited: CommandRunner = async (request) => {
    // A monotonic clock: a wall clock stepped back while a caller waits would lengthen its run.
    const started = performance.now();
    if (request.signal?.aborted) throw new CommandFailure('cancelled');
    let waited = false;
    if (slots.running < max && slots.waiting.length === 0) slots.running++;
    else {
      waited = true;
      await new Promise<void>((resolve, reject) => {
        const leave = () => {
          clearTimeout(timer);
          request.signal?.removeEventListener('abort', onAbort);
          const i = slots.waiting.indexOf(waiter);
          if (i >= 0) slots.waiting.splice(i, 1);
          // The first waiter gone, the next may fit (its bound may be larger).
          if (i === 0) slots.admit();
        };
        const wake = () => {
          leave();
          resolve();
        };
        const waiter = { max, wake };
        const onAbort = () => {
          leave();
          reject(new CommandFailure('cancelled'));
        };
        const timer = setTimeout(() => {
          leave();
          reject(new CommandFailure(`no free slot within ${request.timeoutMs} ms (${max} already running)`));
        }, request.timeoutMs);
        request.signal?.addEventListener('abort', onAbort, { once: true });
        slots.waiting.push(waiter);
      });
    }
    try {
      // What waiting for a slot took comes off the timeout; a run that found one at once gets it
      // whole (and its message names the timeout configured, not a millisecond less).
      if (!waited) return await runner(request);
      const left = Math.max(1, request.timeoutMs - Math.ceil(performance.now() - started));
      return await runner({ ...request, timeoutMs: left });
    } finally {
      release();
    }
  };
  return async (request) => {
    const client = request.client;
    if (client === undefined) return limited(request);
    const inFlight = perClient.get(client) ?? 0;
    if (inFlight >= maxPerClient) {
      throw new TooManyRequestsError(
        CLIENT_BUSY_RETRY_SECONDS,
        'too many requests from this address in progress, retry later',
      );
    }
    perClient.set(client, inFlight + 1);
    try {
      return await limited(request);
    } finally {
      const n = (perClient.get(client) ?? 1) - 1;
      if (n === 0) perClient.delete(client);
      else perClient.set(client, n);
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
  /** Runs in flight for one client; default `maxConcurrency` (no bound of its own). */
  readonly maxPerClient?: number;
}

/** How many lines of a command's stderr are logged, and how much of each. */
export const STDERR_LOG_LINES = 10;
const STDERR_LINE_CHARS = 200;

/** One run of a backend's command, as its caller describes it. */
export interface RunOptions {
  /** Aborting cancels the run: a waiting one leaves the queue, a running one is killed. */
  readonly signal?: AbortSignal;
  /** Text never to log from the command's stderr (the password it was given). */
  readonly redact?: string;
  /** The client address the run is for (see {@link limitConcurrency}); absent: no per-client bound. */
  readonly client?: string;
}

/**
 * `text` with `secret` replaced by `[redacted]`, before the text is cut into lines: a password
 * holding a line break would otherwise span two lines and match neither. Each line of such a
 * password is blanked out too (longest first), for a command that echoes only the line it read;
 * and each as a shell's `read` gives it to a script: without surrounding blanks or NUL bytes, and
 * without -r also without its backslashes (docker_auth's example script reads so), when at least
 * MIN_CHANGED_FORM characters long. Every occurrence is blanked out. A best effort: a command
 * that changes the password otherwise (escapes it, prints a part) is not followed.
 */
function blankOut(text: string, secret: string | undefined): string | undefined {
  if (!secret) return text;
  const lines = [secret, ...secret.split(/\r\n|\r|\n/)];
  // Without -r, read takes the text left to right: a backslash before LF joins the lines, one
  // before any other character (CR, another backslash) keeps that character, one at the end
  // goes; an LF not so escaped ends the line.
  const read = secret.replace(/\\([\s\S]?)/g, (_, next: string) => (next === '\n' ? '' : next));
  const readLines = [read, ...read.split('\n')];
  const changed = [...lines, ...readLines]
    .map((line) => line.trim())
    // A shell's read drops NUL bytes (a password may hold one: `%00` in a form).
    .flatMap((line) => (line.includes('\0') ? [line, line.replaceAll('\0', '')] : [line]))
    .filter((part) => part.length >= MIN_CHANGED_FORM);
  const parts = [...new Set([...lines, ...changed])]
    .filter((part) => part !== '')
    .sort((a, b) => b.length - a.length);
  // One pass, longest first: a shorter part never matches inside a `[redacted]` just written.
  try {
    return text.replace(new RegExp(parts.map(escapeRegex).join('|'), 'g'), '[redacted]');
  } catch {
    // V8 refuses the pattern of a password some 32 Ki characters long ("too large"), and its
    // error holds the pattern: undefined, nothing of the text is shown.
    return undefined;
  }
}

/** What is logged of stderr when the password cannot be looked for in it. */
const TOO_LONG_TO_BLANK_OUT = '(not shown: the password is too long to blank out of it)';

/**
 * A form read made of the password (blanks or backslashes taken off) shorter than this is not
 * blanked out: it would blank that text wherever the command wrote it, and tell the password.
 */
const MIN_CHANGED_FORM = 4;

/** The configured command of one backend; see {@link backendCommand}. */
export interface BackendCommand {
  run(stdin: string, options?: RunOptions): Promise<CommandResult>;
  /** Kills every run in flight (each fails with BackendUnavailableError) and what they left behind. */
  close(): Promise<void>;
}

/**
 * The configured command of one backend, ready to run with a given stdin: at most
 * `maxConcurrency` runs at once, and a run that cannot answer (not started, timed out, too much
 * output, cancelled) becomes BackendUnavailableError, so the request fails closed with 503.
 * The first lines of what a run writes on stderr are logged (never its stdin).
 */
export function backendCommand(
  backend: string,
  settings: CommandSettings,
  runner: CommandRunner = spawnRunner,
  logger?: Logger,
  slots?: CommandSlots,
): BackendCommand {
  const limited = limitConcurrency(runner, settings.maxConcurrency, settings.maxPerClient, slots);
  const closing = new AbortController();
  // One listener per run in flight, removed when it ends: past 10, node would warn of a leak.
  setMaxListeners(0, closing.signal);
  const inFlight = new Set<Promise<unknown>>();
  const logStderr = (stderr: string, outcome: string, redact: string | undefined) => {
    if (!logger || stderr.trim() === '') return;
    const lines = (blankOut(stderr, redact) ?? TOO_LONG_TO_BLANK_OUT)
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '')
      .slice(0, STDERR_LOG_LINES)
      .map((line) => line.slice(0, STDERR_LINE_CHARS));
    logger.warn({ backend, exit: outcome, stderr: lines }, `${backend} command wrote on stderr`);
  };
  const run = async (stdin: string, options: RunOptions = {}): Promise<CommandResult> => {
    // Aborted by the caller or by close(). (Not AbortSignal.any: on Node 20 every signal made
    // from the long-lived closing signal would stay registered with it.)
    const cancel = new AbortController();
    const abort = () => cancel.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    closing.signal.addEventListener('abort', abort, { once: true });
    if (options.signal?.aborted || closing.signal.aborted) abort();
    const signal = cancel.signal;
    const redact = options.redact || undefined;
    try {
      const result = await limited({
        command: settings.command,
        args: settings.args,
        stdin,
        timeoutMs: settings.timeoutMs,
        signal,
        ...(options.client !== undefined ? { client: options.client } : {}),
      });
      logStderr(result.stderr, describeExit(result), redact);
      return result;
    } catch (err) {
      if (err instanceof CommandFailure) {
        logStderr(err.stderr, err.message, redact);
        // Cancelled for the caller's signal (its client went away), not for a shutdown.
        if (options.signal?.aborted === true && !closing.signal.aborted)
          throw new CancelledError(backend, err.message, { cause: err });
        throw new BackendUnavailableError(backend, err.message, { cause: err });
      }
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', abort);
      closing.signal.removeEventListener('abort', abort);
    }
  };
  return {
    run(stdin, options) {
      const pending = run(stdin, options);
      const tracked = pending.catch(() => undefined);
      inFlight.add(tracked);
      void tracked.then(() => inFlight.delete(tracked));
      return pending;
    },
    async close() {
      closing.abort();
      await Promise.all(inFlight);
      await leftoversSwept();
    },
  };
}
