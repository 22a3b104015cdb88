/**
 * Found by a review of 9d75176 ("Read a typed password in raw mode, without readline"), src/cli/prompt.ts
 * LineReader#skip: the escape-sequence state machine takes the byte after a lone ESC as the end
 * of an "ESC and a key" sequence whatever that byte is, ends a CSI at the first byte in
 * 0x40-0x7e, and knows no string sequences. So:
 *
 * - a C0 control right after ESC is swallowed: Esc (the key users press to "get out") then Enter
 *   is not an Enter, Esc then Ctrl-C does not cancel (ISIG is off: nothing else does), Esc then
 *   Ctrl-U does not clear the answer (the wrong text stays in the password);
 * - ESC ESC swallows only the second ESC: Esc then an arrow key (or rxvt's Alt-arrow,
 *   ESC ESC [ D) puts "[D" into the password, where docs/cli.md says arrow keys are ignored;
 * - the Linux console's F1-F5 (ESC [ [ A … E, terminfo kf1-kf5 for TERM=linux) end the CSI at
 *   the second "[", and the letter goes into the password;
 * - OSC and DCS strings (a terminal's answer to a colour or capability query arriving while the
 *   prompt reads) are read as ESC + one key, and their text goes into the password;
 * - Alt with a non-ASCII key (ESC + a multi-byte character) drops only the lead byte, leaving
 *   stray continuation bytes: the answer is refused as "not UTF-8" instead of the key being ignored.
 *
 * What a terminal parser (ECMA-48, the VT500 state machine xterm follows) does instead: a C0
 * control inside a sequence is acted on (CAN/SUB abort it), ESC starts a new sequence, a CSI ends
 * at its final byte after parameters/intermediates only, and ESC ] / P / _ / ^ / X strings run to
 * BEL or ST (ESC \).
 */
import { expect, test } from 'vitest';
import { LineReader } from '../../src/cli/prompt.js';

function typed(...chunks: (string | number[])[]): { answers: string[]; cancelled: boolean } {
  const answers: string[] = [];
  let cancelled = false;
  const reader = new LineReader(
    (line) => answers.push(line.toString('latin1')),
    () => (cancelled = true),
  );
  for (const c of chunks) reader.read(typeof c === 'string' ? Buffer.from(c, 'latin1') : Uint8Array.from(c));
  return { answers, cancelled };
}

test('Esc, then Enter: the Enter ends the answer', () => {
  // Fails now: { answers: [], ... } — the CR was taken as the key of "Alt-Enter".
  expect(typed('secret\x1b\r')).toEqual({ answers: ['secret'], cancelled: false });
});

test('Esc, then Ctrl-C: the prompt is cancelled', () => {
  // Fails now: not cancelled; the prompt goes on reading.
  expect(typed('secret\x1b\x03').cancelled).toBe(true);
});

test('Esc, then Ctrl-U: the answer so far is cleared', () => {
  // Fails now: ["wrongright"].
  expect(typed('wrong\x1b\x15right\r').answers).toEqual(['right']);
});

test('Esc, then an arrow key (also rxvt Alt-Left, ESC ESC [ D): nothing enters the password', () => {
  // Fails now: ["pw[D"].
  expect(typed('pw\x1b\x1b[D\r').answers).toEqual(['pw']);
});

test('Linux console F1 (ESC [ [ A): nothing enters the password', () => {
  // Fails now: ["pwA"].
  expect(typed('pw\x1b[[A\r').answers).toEqual(['pw']);
});

test('an OSC or DCS string (a terminal query reply) is dropped whole', () => {
  // Fails now: ["p11;rgb:0000/0000/0000\x07w"] and ["p1+r544e=787465726dw"].
  expect(typed('p\x1b]11;rgb:0000/0000/0000\x07w\r').answers).toEqual(['pw']);
  expect(typed('p\x1bP1+r544e=787465726d\x1b\\w\r').answers).toEqual(['pw']);
});

test('Alt with a non-ASCII key (ESC é) drops the whole character, not only its first byte', () => {
  // Fails now: ["pw\xa9"] — a lone continuation byte, refused later as "not UTF-8".
  expect(typed('pw', [0x1b, 0xc3, 0xa9], '\r').answers).toEqual(['pw']);
});

test('CAN and SUB end a sequence and are dropped; a charset designation (ESC ( B) is dropped whole', () => {
  expect(typed('p\x1b[1;5\x18w\r').answers).toEqual(['pw']);
  expect(typed('p\x1b[\x1aw\r').answers).toEqual(['pw']);
  expect(typed('p\x1b(Bw\r').answers).toEqual(['pw']);
});

test('a string ended by ESC and another key ends there; the text after it is the password again', () => {
  expect(typed('p\x1b]0;title\x1b\\w\r').answers).toEqual(['pw']);
  expect(typed('p\x1b_app\x07w', '\r').answers).toEqual(['pw']);
});
