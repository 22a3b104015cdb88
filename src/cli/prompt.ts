import { constants } from 'node:os';
import { UsageError } from '../core/errors.js';

/**
 * A password typed on the terminal: the prompt goes to stderr (stdout stays the verb's answer;
 * stdout when only stdout is the terminal), nothing typed is echoed, and with `confirm` it is
 * asked twice (`regauth hash` would otherwise hash a typo nobody saw). An empty first answer is
 * not asked again: the verb refuses it.
 *
 * As readpassphrase(3) reads one: the terminal in raw mode (no echo, every key as it comes, in
 * the order typed; on the terminal itself, so also with stderr redirected), and the few keys a
 * password needs applied here (LineReader): Backspace, Ctrl-U, Ctrl-W, Enter, Ctrl-C and Ctrl-D;
 * nothing else edits, whatever TERM says, and nothing is drawn, kept or recalled. Answers typed
 * ahead in one go are all read. Ctrl-Z is ignored: where nothing can stop the process
 * (`docker run -it`, node as PID 1, `ssh -t`) it would go on with echo back on. The terminal's
 * settings are put back on every way out: an answer, a refusal, and the signals that end the
 * process (then raised again).
 *
 * node's readline was used before: a line editor that draws what it reads, it had to be kept
 * from drawing (the line, its prompt), from keeping history and killed text for the second
 * answer, and its editing keys did not apply on a dumb terminal.
 */
export async function typedPassword(confirm: boolean): Promise<string> {
  const screen = !process.stderr.isTTY && process.stdout.isTTY ? process.stdout : process.stderr;
  const stdin = process.stdin as NodeJS.ReadStream;
  const lines: (Buffer | Error)[] = [];
  let waiting: ((line: Buffer | Error) => void) | undefined;
  const deliver = (line: Buffer | Error) => {
    if (waiting) {
      waiting(line);
      waiting = undefined;
    } else lines.push(line);
  };
  const reader = new LineReader(deliver, () => deliver(cancelled()));
  const onData = (chunk: Buffer) => reader.read(chunk);
  const onEnd = () => deliver(cancelled());
  // A terminal that cannot be read: one line, as for the piped path, not an unhandled error.
  const onError = (err: Error) =>
    deliver(new UsageError(`cannot read the password from the terminal: ${err.message}`));
  const ignore = () => undefined;
  const restore = () => {
    try {
      if (stdin.isRaw) stdin.setRawMode(false);
    } catch {
      // The terminal is gone (a hang-up): nothing to put back.
    }
  };
  // A signal that ends the process: the terminal gets its echo back first.
  const onFatal = (signal: NodeJS.Signals) => {
    stopListening();
    restore();
    process.kill(process.pid, signal);
  };
  const stopListening = () => {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdin.off('error', onError);
    process.off('SIGTSTP', ignore);
    for (const signal of FATAL_SIGNALS) process.off(signal, onFatal);
  };
  try {
    stdin.setRawMode(true);
  } catch (err) {
    throw new UsageError(
      `cannot turn the terminal's echo off: ${(err as Error).message}; pipe the password in instead`,
    );
  }
  stdin.on('data', onData);
  stdin.on('end', onEnd);
  stdin.on('error', onError);
  process.on('SIGTSTP', ignore);
  for (const signal of FATAL_SIGNALS) process.on(signal, onFatal);
  stdin.resume();
  const ask = async (text: string): Promise<string> => {
    screen.write(text);
    const line = lines.shift() ?? (await new Promise<Buffer | Error>((resolve) => (waiting = resolve)));
    // The answer's Enter was not echoed: end the prompt's line (a refusal goes on the next).
    screen.write('\n');
    if (line instanceof Error) {
      // Whatever follows (typed ahead) is not read as a further answer.
      lines.length = 0;
      lines.push(line);
      throw line;
    }
    let answer: string;
    try {
      answer = UTF8.decode(line);
    } catch {
      // Read leniently, each byte that is not UTF-8 would be U+FFFD: two passwords would be one
      // (the piped path refuses them too, processIO.readStdin).
      throw new UsageError('the typed password is not UTF-8; regauth reads passwords as UTF-8');
    }
    // A control key this prompt does not apply would be hashed as a character: a password nobody
    // can type at a login. A Tab is a character like any other.
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(answer)) {
      throw new UsageError('the typed password holds a control character; type it again (or pipe it in)');
    }
    return answer;
  };
  try {
    const first = await ask('Password: ');
    if (confirm && first !== '' && (await ask('Again: ')) !== first) {
      throw new UsageError('the two passwords differ');
    }
    return first;
  } finally {
    stopListening();
    stdin.pause();
    restore();
  }
}

/**
 * The signals whose default ends the process that node leaves at their default, caught while the
 * terminal is raw (those this system has). Not SIGUSR1 (node's inspector), nor SIGPROF (V8's
 * profiler samples with it), nor SIGSEGV, SIGBUS, SIGFPE and SIGILL (no listener may run after a
 * real one); SIGPIPE and SIGXFSZ node ignores.
 */
const FATAL_SIGNALS: readonly NodeJS.Signals[] = (
  [
    'SIGINT',
    'SIGTERM',
    'SIGHUP',
    'SIGQUIT',
    'SIGALRM',
    'SIGUSR2',
    'SIGXCPU',
    'SIGABRT',
    'SIGPWR',
    'SIGVTALRM',
    'SIGSYS',
    'SIGTRAP',
    'SIGIO',
    'SIGSTKFLT',
  ] as const
).filter((signal) => signal in constants.signals);

// ignoreBOM: a leading U+FEFF is part of the password, as piped and at the token endpoint.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The answers in the keys typed on a terminal in raw mode, byte by byte in the order typed:
 * Enter (CR, LF, or CR LF as one) ends an answer; Backspace (DEL or BS) erases the last
 * character, Ctrl-U the answer so far, Ctrl-W its last word; Ctrl-C cancels, and so does Ctrl-D
 * on an empty answer; Ctrl-Z is dropped. Escape sequences (arrows, function keys, Alt with a key,
 * a paste's brackets, a terminal's answers) are dropped whole, read as a terminal reads them
 * (ECMA-48): a control key inside one, a string's (OSC, DCS, …) too, ends it and is acted on
 * (CAN and SUB are dropped), ESC starts a new one, a control sequence ends at its final byte, a
 * string at BEL or ST. Any other control character stays, for the caller to refuse.
 */
export class LineReader {
  #line: number[] = [];
  #state: EscapeState = 'none';
  /** Continuation bytes still to drop of a character typed with Alt (ESC and a UTF-8 character). */
  #skipBytes = 0;
  #afterCr = false;
  #done = false;
  constructor(
    private readonly answer: (line: Buffer) => void,
    private readonly cancel: () => void,
  ) {}

  read(bytes: Uint8Array): void {
    for (const byte of bytes) {
      if (this.#done) return;
      const afterCr = this.#afterCr;
      this.#afterCr = false;
      if (this.#state !== 'none' && this.#inEscape(byte)) continue;
      if (byte === 0x0d || byte === 0x0a) {
        // CR LF is one Enter (a paste with Windows line ends, a client sending CR LF).
        if (byte === 0x0a && afterCr) continue;
        this.#afterCr = byte === 0x0d;
        this.answer(Buffer.from(this.#line));
        this.#line = [];
      } else if (byte === 0x7f || byte === 0x08) this.#eraseCharacter();
      else if (byte === 0x15) this.#line = [];
      else if (byte === 0x17) this.#eraseWord();
      else if (byte === 0x03 || (byte === 0x04 && this.#line.length === 0)) {
        this.#done = true;
        this.cancel();
      } else if (byte === 0x1b) this.#state = 'esc';
      else if (byte !== 0x1a && byte !== 0x04) this.#line.push(byte);
    }
  }

  /**
   * One byte while an escape sequence is open: true when it belongs to the sequence (dropped),
   * false when the sequence ends before it and the byte is read as a key of its own.
   */
  #inEscape(byte: number): boolean {
    const state = this.#state;
    if (state === 'string-esc') {
      // ST (ESC \) ends the string; ESC and anything else starts a new sequence there.
      this.#state = 'esc';
      if (byte === 0x5c) {
        this.#state = 'none';
        return true;
      }
      return this.#inEscape(byte);
    }
    if (state === 'string' && byte >= 0x20) return true;
    if (state === 'string' && byte === 0x07) {
      this.#state = 'none';
      return true;
    }
    if (byte < 0x20) {
      this.#state = 'none';
      this.#skipBytes = 0;
      // CAN and SUB end a sequence (a string too) and are dropped; ESC starts a new one (inside a
      // string, it may be ST); any other control key is acted on.
      if (byte === 0x18 || byte === 0x1a) return true;
      if (byte === 0x1b) {
        this.#state = state === 'string' ? 'string-esc' : 'esc';
        return true;
      }
      return false;
    }
    if (state === 'alt') {
      if ((byte & 0xc0) === 0x80 && --this.#skipBytes > 0) return true;
      this.#state = 'none';
      return (byte & 0xc0) === 0x80;
    }
    if (state === 'esc') {
      if (byte === 0x5b) this.#state = 'csi-start';
      else if (byte === 0x4f) this.#state = 'ss3';
      else if ([0x50, 0x58, 0x5d, 0x5e, 0x5f].includes(byte)) this.#state = 'string';
      else if (byte >= 0x20 && byte <= 0x2f) this.#state = 'esc-intermediate';
      else if (byte >= 0xc0) {
        // Alt with a key outside ASCII: the whole UTF-8 character goes.
        this.#state = 'alt';
        this.#skipBytes = byte >= 0xf0 ? 3 : byte >= 0xe0 ? 2 : 1;
      } else this.#state = 'none';
      return true;
    }
    if (state === 'esc-intermediate') {
      if (byte < 0x20 || byte > 0x2f) this.#state = 'none';
      return true;
    }
    if (state === 'ss3') {
      // A key's modifiers may come first (Konsole's Shift-F1 is ESC O 2 P).
      if (byte < 0x30 || byte > 0x3f) this.#state = 'none';
      return true;
    }
    // A control sequence: parameters and intermediates, then a final byte. The Linux console's
    // F1 to F5 are ESC [ [ and a letter.
    if (state === 'csi-start' && byte === 0x5b) {
      this.#state = 'csi-key';
      return true;
    }
    if (state === 'csi-key') {
      this.#state = 'none';
      return true;
    }
    this.#state = byte >= 0x40 && byte <= 0x7e ? 'none' : 'csi';
    return true;
  }

  /** The last character: its UTF-8 continuation bytes, then its first byte. */
  #eraseCharacter(): void {
    while (this.#line.length > 0 && (this.#line.at(-1)! & 0xc0) === 0x80) this.#line.pop();
    this.#line.pop();
  }

  #eraseWord(): void {
    const space = (b: number) => b === 0x20 || b === 0x09;
    while (this.#line.length > 0 && space(this.#line.at(-1)!)) this.#line.pop();
    while (this.#line.length > 0 && !space(this.#line.at(-1)!)) this.#line.pop();
  }
}

/** Where LineReader is in an escape sequence. */
type EscapeState =
  | 'none'
  | 'esc'
  | 'esc-intermediate'
  | 'csi-start'
  | 'csi'
  | 'csi-key'
  | 'ss3'
  | 'string'
  | 'string-esc'
  | 'alt';

function cancelled(): UsageError {
  return new UsageError('no password given: the prompt was cancelled');
}
