import { read } from 'read';
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

async function ask(prompt: string): Promise<string> {
  try {
    return await read({ prompt, silent: true, replace: '', output: process.stderr });
  } catch {
    // read rejects when the prompt is cancelled (Ctrl-C, Ctrl-D).
    throw new UsageError('no password given: the prompt was cancelled');
  }
}
