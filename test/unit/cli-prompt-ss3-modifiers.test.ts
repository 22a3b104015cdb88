/**
 * Found by a review of 8b3b995 (src/cli/prompt.ts LineReader#inEscape, the 'ss3' state): an SS3 sequence
 * is taken as ESC O and exactly one more byte. Konsole's default keytab
 * (data/keyboard-layouts/default.keytab: `key F1 +AnyMod : "\EO*P"` … F4) sends F1 to F4 with
 * Shift, Ctrl or Alt as ESC O, the modifier digit, and the letter (Shift+F1 = ESC O 2 P,
 * Ctrl+F2 = ESC O 5 Q; terminfo konsole kf13=\EO2P); older VTE and xterm sent ESC O 1 ; 2 P.
 * Only the digit goes with the sequence: the key's letter (and ";2" for the older form) is put
 * into the password, where every other function key is dropped whole. node's readline reads
 * ESC O, a modifier, and a letter as one key.
 */
import { expect, test } from 'vitest';
import { LineReader } from '../../src/cli/prompt.js';

function typed(...chunks: string[]): string[] {
  const answers: string[] = [];
  const reader = new LineReader(
    (line) => answers.push(line.toString('latin1')),
    () => undefined,
  );
  for (const c of chunks) reader.read(Buffer.from(c, 'latin1'));
  return answers;
}

test('Konsole Shift+F1 and Ctrl+F2 (ESC O 2 P, ESC O 5 Q) put nothing into the password', () => {
  // Fails now: ["pPwQ"].
  expect(typed('p\x1bO2Pw\x1bO5Q\r')).toEqual(['pw']);
});

test('the older ESC O 1 ; 2 P puts nothing into the password', () => {
  // Fails now: ["p;2Pw"].
  expect(typed('p\x1bO1;2Pw\r')).toEqual(['pw']);
});

test('plain SS3 keys (F1, application-mode arrows) still drop one byte only', () => {
  expect(typed('p\x1bOPw\x1bOAx\r')).toEqual(['pwx']);
});
