import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { UsageError } from '../core/errors.js';

/**
 * A password typed on the terminal: the prompt goes to stderr (stdout stays the verb's answer;
 * stdout when only stdout is the terminal), nothing typed is echoed, and with `confirm` it is
 * asked twice (`regauth hash` would otherwise hash a typo nobody saw). An empty first answer is
 * not asked again: the verb refuses it.
 *
 * On node's readline in terminal mode whatever the output is (with stderr redirected, echo must
 * still be off: the terminal is stdin's), one interface for both answers, so that answers typed
 * ahead in one go are all read. npm's `read` was used first: it turned echo off only when its
 * output was a terminal, and never settled on Ctrl-D.
 */
export async function typedPassword(confirm: boolean): Promise<string> {
  const screen = !process.stderr.isTTY && process.stdout.isTTY ? process.stdout : process.stderr;
  // readline's own output is dropped whole: it would echo the line, and redraw it with a prompt
  // (an answer typed ahead is already in the line when its prompt is shown). The prompts are
  // written to the screen here.
  const output = new Writable({
    write(_chunk: Buffer, _encoding, done) {
      done();
    },
  });
  // No history: Up at `Again:` would bring the first answer back untyped.
  const rl = createInterface({ input: process.stdin, output, terminal: true, historySize: 0 });
  const lines: string[] = [];
  let waiting: { resolve: (line: string) => void; reject: (err: Error) => void } | undefined;
  let failure: Error | undefined;
  const fail = (err: Error) => {
    failure ??= err;
    waiting?.reject(failure);
    waiting = undefined;
  };
  rl.on('line', (line) => {
    if (waiting) {
      waiting.resolve(line);
      waiting = undefined;
    } else lines.push(line);
  });
  // Ctrl-C, and Ctrl-D on an empty line (readline closes).
  rl.on('SIGINT', () => fail(cancelled()));
  rl.on('close', () => fail(cancelled()));
  // A terminal that cannot be read: one line, as for the piped path, not an unhandled error.
  rl.on('error', (err: Error) =>
    fail(new UsageError(`cannot read the password from the terminal: ${err.message}`)),
  );
  // Ctrl-Z is ignored: readline would turn echo back on and stop the process, and where nothing
  // can stop it (no job control: `docker run -it`, node as PID 1, `ssh -t`) the rest of the
  // password would then be echoed in clear.
  rl.on('SIGTSTP', () => undefined);
  const ask = async (text: string): Promise<string> => {
    screen.write(text);
    rl.setPrompt(text);
    rl.prompt();
    let line: string;
    try {
      line =
        lines.shift() ??
        (await new Promise<string>((resolve, reject) => {
          if (failure) reject(failure);
          else waiting = { resolve, reject };
        }));
    } finally {
      // The answer's Enter was not echoed: end the prompt's line (a refusal goes on the next).
      screen.write('\n');
    }
    const answer = edited(line);
    // readline reads the bytes as UTF-8, each byte that is not as U+FFFD: two passwords would be
    // one (the piped path refuses them, processIO.readStdin).
    if (answer.includes('\uFFFD')) {
      throw new UsageError('the typed password is not UTF-8; regauth reads passwords as UTF-8');
    }
    // A control key the terminal did not apply (TERM=dumb) would be hashed as a character: a
    // password nobody can type at a login.
    // (A Tab is a character like any other: readline puts it in the line on any terminal.)
    if (/[\x00-\x08\x0a-\x1f]/.test(answer)) {
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
    rl.removeAllListeners('close');
    rl.close();
  }
}

/**
 * The line with the terminal's editing keys applied: on a terminal readline cannot drive
 * (TERM=dumb), they reach the line as characters. Backspace (DEL or BS) erases a character,
 * Ctrl-U the line, Ctrl-W a word; Ctrl-Z is dropped (ignored, as readline ignores it here).
 */
function edited(line: string): string {
  if (!/[\b\x7f\x15\x17\x1a]/.test(line)) return line;
  const kept: string[] = [];
  for (const ch of line) {
    if (ch === '\b' || ch === '\x7f') kept.pop();
    else if (ch === '\x15') kept.length = 0;
    else if (ch === '\x17') {
      while (kept.length > 0 && /\s/.test(kept.at(-1)!)) kept.pop();
      while (kept.length > 0 && !/\s/.test(kept.at(-1)!)) kept.pop();
    } else if (ch !== '\x1a') kept.push(ch);
  }
  return kept.join('');
}

function cancelled(): UsageError {
  return new UsageError('no password given: the prompt was cancelled');
}
