/**
 * Found by a review of 8b3b995 (src/cli/prompt.ts LineReader#inEscape, the 'string' and 'string-esc'
 * states): once ESC P, ESC X, ESC ], ESC ^ or ESC _ has been read, every byte up to BEL or ESC is
 * dropped, control keys included. Those five are also keys: Alt+Shift+P, Alt+Shift+X, Alt+],
 * Alt+^, Alt+_ (an ESC prefix in xterm with metaSendsEscape, VTE, Konsole, …), or Esc pressed
 * and then a password that starts with P, X, ], ^ or _. After that, Enter does not answer,
 * Ctrl-C and Ctrl-D do not cancel (raw mode has ISIG off: they are the only way out), CAN and SUB
 * do not end the "string" (the class doc says they end a sequence; ECMA-48 and the VT500 parser
 * say so for strings too): the prompt hangs, echo off, until the user happens on Ctrl-G or Esc.
 * The commit's own reason for acting on control keys inside a sequence ("with raw mode, Ctrl-C
 * is the only way out") applies here unchanged; a terminal's real OSC/DCS/APC answers hold no
 * CR, LF, ETX, EOT, CAN or SUB, so acting on them loses nothing.
 *
 * Also: ESC inside a string followed by anything but "\" ends the string but drops only the one
 * byte after ESC, where a terminal starts a new sequence with that ESC: an arrow key there leaves
 * its final letter in the password.
 */
import { expect, test } from 'vitest';
import { LineReader } from '../../src/cli/prompt.js';

function typed(...chunks: string[]): { answers: string[]; cancelled: boolean } {
  const answers: string[] = [];
  let cancelled = false;
  const reader = new LineReader(
    (line) => answers.push(line.toString('latin1')),
    () => (cancelled = true),
  );
  for (const c of chunks) reader.read(Buffer.from(c, 'latin1'));
  return { answers, cancelled };
}

test.each(['P', 'X', ']', '^', '_'])('Esc, then %s, then a password and Enter: Enter answers', (key) => {
  // Fails now: { answers: [] } — the Enter is dropped as part of a DCS/SOS/OSC/PM/APC string.
  expect(typed(`\x1b${key}assword1\r`).answers).toHaveLength(1);
});

test('Esc, then P (Alt+Shift+P), then Ctrl-C: the prompt is cancelled', () => {
  // Fails now: cancelled is false, the prompt goes on reading.
  expect(typed('\x1bPass', '\x03').cancelled).toBe(true);
});

test('Esc, then ] (Alt+]), then Ctrl-D on an empty answer: the prompt is cancelled', () => {
  // Fails now: cancelled is false.
  expect(typed('\x1b]', '\x04').cancelled).toBe(true);
});

test('CAN and SUB end a string as they end any other sequence, and are dropped', () => {
  // Fails now: [] — the string swallows CAN/SUB, "w" and the Enter.
  expect(typed('p\x1b]0;title\x18w\r').answers).toEqual(['pw']);
  expect(typed('p\x1bP1$r\x1aw\r').answers).toEqual(['pw']);
});

test('ESC inside a string starts a new sequence: an arrow there is dropped whole', () => {
  // Fails now: ["pAw"] — only "[" went with the ESC.
  expect(typed('p\x1b]0;title\x1b[Aw\r').answers).toEqual(['pw']);
});
