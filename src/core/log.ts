import { writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { build as prettyStream } from 'pino-pretty';
import { z } from 'zod';
import { RegauthError } from './errors.js';
import { section, strict } from './schema.js';
import { plainSection } from './section.js';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const logSchema = strict({
  /** pino level; REGAUTH_LOG_LEVEL in the environment wins (for debugging without editing the file). */
  level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  /** `auto`: readable lines when stdout is a terminal, JSON lines otherwise. */
  format: z.enum(['auto', 'json', 'pretty'], { error: 'must be one of auto, json, pretty' }).default('auto'),
  /**
   * How many distinct recent decisions (account, labels, client address, service, scope) to keep
   * in memory, so a reload logs how many of them it changes; 0 (the default) keeps none.
   */
  recent_decisions: z
    .number({ error: 'must be an integer' })
    .int({ error: 'must be an integer' })
    .min(0, { error: 'must be at least 0' })
    .max(1_000_000, { error: 'must be at most 1000000' })
    .default(0),
});

export type LogConfig = z.output<typeof logSchema>;

/** `log:` (all defaults when absent). */
export const logSection = plainSection(section(logSchema));

export interface LoggerOptions {
  /** pino level; `REGAUTH_LOG_LEVEL` in the environment wins over it. */
  readonly level?: string;
  /** `auto`: readable lines when the destination is a terminal, JSON lines otherwise. */
  readonly format?: LogConfig['format'];
  readonly destination?: NodeJS.WritableStream;
}

/**
 * The level `REGAUTH_LOG_LEVEL` sets (it wins over `log.level`), or undefined when it is unset or
 * empty. Any other value is refused with a message naming the variable and the levels allowed,
 * not pino's own ("unknown level"), so `regauth serve` can fail before it does anything.
 */
export function envLogLevel(env: NodeJS.ProcessEnv = process.env): LogConfig['level'] | undefined {
  const value = env['REGAUTH_LOG_LEVEL'];
  if (value === undefined || value === '') return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new RegauthError(
      'ERR_CONFIG',
      `REGAUTH_LOG_LEVEL=${JSON.stringify(value)} is not a log level; use one of ${LOG_LEVELS.join(', ')} (or unset it to use log.level)`,
    );
  }
  return value as LogConfig['level'];
}

/**
 * The process logger. Redaction is a safety net only: code never passes secrets to it
 * (Secret prints as ***), but a stray header object must not leak either.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  // stdout through pino's asynchronous destination: under load, lines written while a write is in
  // flight go out together (fewer syscalls on the token path); at low load each line goes at once.
  // pino flushes it synchronously when the process exits.
  const format = options.format ?? 'auto';
  const terminal = ((options.destination ?? process.stdout) as { isTTY?: boolean }).isTTY === true;
  const pretty = format === 'pretty' || (format === 'auto' && terminal);
  const out: Stdout = {};
  // pino-pretty pipes its text into the destination: a stream, taking text.
  const destination =
    options.destination ??
    (terminal
      ? process.stdout
      : pretty
        ? bounded(pino.destination({ dest: 1, sync: false, maxLength: MAX_WAITING_BYTES }), out)
        : stdoutLines(out));
  const logger = pino(
    {
      level: envLogLevel() ?? options.level ?? 'info',
      // `app`, not `service`: the audit line's `service` is the requested registry service.
      base: { app: 'regauth' },
      timestamp: isoTime,
      // pretty: pino-pretty parses the line again, so the escape itself is escaped to stay text.
      hooks: { streamWrite: pretty ? escapeForPretty : escapeBreaks },
      redact: {
        // Exact paths only: wildcard paths cost a scan of every logged object (measured ~6% of a
        // cached token request), and the audit record never nests these keys.
        paths: [
          'password',
          'authorization',
          'headers.authorization',
          'refresh_token',
          'token',
          'access_token',
          'client_secret',
        ],
        censor: '***',
      },
    },
    // In-process (not a worker transport), so lines are written in order and none is lost at exit.
    pretty
      ? prettyStream({
          destination,
          colorize: (destination as { isTTY?: boolean }).isTTY === true,
          sync: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname,app',
        })
      : destination,
  );
  out.logger = logger;
  if (out.busy) waiting.set(logger, out.busy);
  return logger;
}

/** Whether lines wait to be written, for each logger createLogger made on stdout. */
const waiting = new WeakMap<Logger, () => boolean>();

/**
 * Resolves once `logger` has written to stdout every line it was given, the count of lines it
 * dropped among them, or once stdout has failed; at once for a logger writing elsewhere. A reader
 * that takes nothing holds it for ever. (pino's own last flush at exit writes what waits, but not
 * the rest of a write in flight, which it cuts, nor the count of lines dropped.)
 */
export async function logWritten(logger: Logger): Promise<void> {
  const busy = waiting.get(logger);
  while (busy?.()) await new Promise((resolve) => setTimeout(resolve, 25));
}

/**
 * How many bytes of log lines may wait in memory for stdout's reader (a log shipper that lags or
 * is down, Docker's blocking log mode behind a slow driver). Without a bound they grew until the
 * process was killed, every line in it lost; and anyone can make lines large (an anonymous token
 * request's 64 scopes are logged as requested, granted and decided). Past it a line is dropped
 * and counted, and the count is logged once stdout is written again.
 */
export const MAX_WAITING_BYTES = 16 * 1024 * 1024;

/** What createLogger keeps of its stdout: the logger (which says lines dropped), and whether lines wait. */
interface Stdout {
  logger?: Logger;
  busy?: () => boolean;
}

/** Lines dropped since the first of them (a time in ms). */
interface Dropped {
  lines: number;
  since: number;
}

type Boom = ReturnType<typeof pino.destination>;

/**
 * `boom` (made with `maxLength`) counting the lines it drops, and saying the count through
 * `out.logger` once it writes to stdout again (after the write in flight, not inside it), then
 * counting anew. Sets `out.busy`.
 */
function bounded(boom: Boom, out: Stdout): Boom {
  // Never asks its writer to wait: a stream piped into it (pino-pretty's) would hold the lines
  // itself instead, without a bound.
  const write = boom.write.bind(boom);
  const wrapped = (data: string) => {
    write(data);
    return true;
  };
  boom.write = wrapped;
  // sonic-boom's own state: the bytes not yet written, and a write in flight.
  const state = boom as unknown as { _len: number; _writing: boolean; destroyed: boolean };
  let dropped: Dropped | undefined;
  let saying = false;
  const say = () => {
    saying = false;
    const count = dropped;
    if (!count) return;
    dropped = undefined;
    out.logger?.warn(
      { droppedLines: count.lines, droppedSince: new Date(count.since).toISOString() },
      `${count.lines} log lines dropped: more than ${MAX_WAITING_BYTES / 1024 / 1024} MiB of them waited for stdout's reader`,
    );
    // Dropped too (the reader fell behind again at once): counted on, the notice not among them.
    if (dropped) dropped = { lines: count.lines + (dropped as Dropped).lines - 1, since: count.since };
  };
  boom.on('drop', () => {
    if (dropped) dropped.lines++;
    else dropped = { lines: 1, since: Date.now() };
    // A line larger than the bound alone, with nothing being written: no write will end to say it.
    if (!state._writing && !saying) {
      saying = true;
      setImmediate(say);
    }
  });
  boom.on('write', () => {
    if (!dropped || saying) return;
    saying = true;
    setImmediate(say);
  });
  // Once stdout has failed (the reader gone: pino replaced `write`; another error: stdoutLines
  // did) nothing waits.
  out.busy = () =>
    boom.write === wrapped &&
    !state.destroyed &&
    (state._len > 0 || state._writing || saying || dropped !== undefined);
  return boom;
}

/**
 * Characters JSON leaves as they are that readers of a log act on: C1 controls (U+0085 breaks
 * lines for Python's `splitlines()` and for terminals; U+009B starts an escape sequence as ESC [
 * does, where ESC itself is escaped), the line and paragraph separators, and the bidi controls
 * (U+202E shows the rest of a line reversed). A client writes some of the line's values
 * (`service`, `clientId`, a refused scope quoted in `reason`): with these raw, it could end the
 * line where it likes and write one regauth did not.
 */
const READER_CONTROL = /[\u0080-\u009f\u2028\u2029\p{Bidi_Control}]/u;
const READER_CONTROLS = new RegExp(READER_CONTROL.source, 'gu');

/**
 * A JSON line with each of {@link READER_CONTROL} written as its `\uXXXX` escape: the same value
 * to a JSON parser, no line break or control to anything else. A line without any (nearly all) is
 * returned as it is after one scan.
 */
const escapeBreaks = escaper('\\u');

/** {@link escapeBreaks} for pino-pretty, which parses the line again: it prints `\uXXXX` as text. */
const escapeForPretty = escaper('\\\\u');

function escaper(escape: string): (line: string) => string {
  const write = (ch: string) => `${escape}${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  // A line of ASCII alone (its UTF-8 as long as it is: nearly every line) holds none of them, and
  // counting its bytes costs a third of the pattern's scan (a token's audit line, about 600
  // characters: 0.3 against 0.9 µs).
  return (line) =>
    Buffer.byteLength(line) !== line.length && READER_CONTROL.test(line)
      ? line.replace(READER_CONTROLS, write)
      : line;
}

/**
 * stdout through pino's asynchronous destination (sonic-boom), given each line as bytes. In its
 * text mode, sonic-boom measures the byte length of the whole text waiting behind a write in
 * flight on every line, which copies it; with bytes it adds up the lengths and joins them once
 * per write.
 */
function stdoutLines(out: Stdout): NodeJS.WritableStream {
  const boom = bounded(
    pino.destination({ dest: 1, sync: false, contentMode: 'buffer', maxLength: MAX_WAITING_BYTES }),
    out,
  );
  // pino drops the lines once the reader is gone (EPIPE) and throws any other write error (a full
  // disk under `>> file`: ENOSPC, EIO), which no one catches here: the process ended, and its
  // last flush at exit, which sonic-boom retries for ever on such an error, hung it. Such an error
  // now ends the log as EPIPE does, said once on stderr; requests go on being answered.
  let failed = false;
  boom.on('error', (err: NodeJS.ErrnoException) => {
    if (failed || err.code === 'EPIPE') return;
    failed = true;
    const quiet = boom as unknown as Record<'write' | 'flushSync' | 'end' | 'destroy', () => boolean>;
    for (const name of ['write', 'flushSync', 'end', 'destroy'] as const) quiet[name] = () => true;
    try {
      // Written at once, and never thrown from here: stderr may be on the same full disk.
      writeSync(
        2,
        `regauth: the log cannot be written to stdout (${err.code ?? err.message}); no more log lines are written until regauth restarts\n`,
      );
    } catch {
      // Nowhere left to say it.
    }
  });
  // pino's types have sonic-boom take text; in buffer mode it takes bytes. Looked up on every
  // line: once the reader has gone (EPIPE), pino replaces it with a no-op, and lines are dropped
  // instead of piling up behind the failed write.
  const bytes = boom as unknown as { write(bytes: Buffer): boolean };
  // logger.fatal() writes out what waits at once (flushSync), as pino does for its own destination.
  return {
    write: (line: string) => bytes.write(Buffer.from(line)),
    flushSync: () => boom.flushSync(),
  } as unknown as NodeJS.WritableStream;
}

/**
 * pino's `isoTime`, the text made once per millisecond: a loaded server writes several lines in
 * one, and each `toISOString` allocates.
 */
let stamp = { ms: Number.NaN, text: '' };
function isoTime(): string {
  const ms = Date.now();
  if (ms !== stamp.ms) stamp = { ms, text: `,"time":"${new Date(ms).toISOString()}"` };
  return stamp.text;
}
