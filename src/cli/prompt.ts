import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { UsageError } from '../core/errors.js';

/**
 * A password typed on the terminal: the prompt goes to stderr (stdout stays the verb's answer),
 * nothing typed is echoed, and with `confirm` it is asked twice (`regauth hash` would otherwise
 * hash a typo nobody saw). An empty first answer is not asked again: the verb refuses it.
 */
export async function typedPassword(confirm: boolean): Promise<string> {
  const first = await ask('Password: ');
  if (confirm && first !== '' && (await ask('Again: ')) !== first) {
    throw new UsageError('the two passwords differ');
  }
  return first;
}

/**
 * One hidden answer, on node's readline in terminal mode whatever the output is (with stderr
 * redirected, echo must still be off: the terminal is stdin's). npm's `read` was used first: it
 * turned echo off only when its output was a terminal, and never settled on Ctrl-D.
 */
async function ask(prompt: string): Promise<string> {
  // Where the prompt shows: stderr, or stdout when only stdout is the terminal.
  const screen = !process.stderr.isTTY && process.stdout.isTTY ? process.stdout : process.stderr;
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!muted) screen.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  let answered = false;
  try {
    const answer = await new Promise<string>((resolve, reject) => {
      rl.on('line', (line) => {
        answered = true;
        resolve(line);
      });
      // Ctrl-C, and Ctrl-D on an empty line (readline closes).
      rl.on('SIGINT', () => reject(cancelled()));
      rl.on('close', () => {
        if (!answered) reject(cancelled());
      });
      rl.setPrompt(prompt);
      rl.prompt();
      muted = true;
    });
    // readline reads the bytes as UTF-8, each byte that is not as U+FFFD: two passwords would be
    // one (the piped path refuses them, processIO.readStdin).
    if (answer.includes('\uFFFD')) {
      throw new UsageError('the typed password is not UTF-8; regauth reads passwords as UTF-8');
    }
    return answer;
  } finally {
    muted = false;
    rl.close();
    // The answer's Enter was not echoed: end the prompt's line.
    screen.write('\n');
  }
}

function cancelled(): UsageError {
  return new UsageError('no password given: the prompt was cancelled');
}
