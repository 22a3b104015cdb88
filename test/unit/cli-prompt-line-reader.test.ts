import { expect, test } from 'vitest';
import { LineReader } from '../../src/cli/prompt.js';

/** The answers (as text) and whether it was cancelled, for keys arriving in `chunks`. */
function typed(...chunks: (string | number[])[]): { answers: string[]; cancelled: boolean } {
  const answers: string[] = [];
  let cancelled = false;
  const reader = new LineReader(
    (line) => answers.push(line.toString('utf8')),
    () => (cancelled = true),
  );
  for (const c of chunks) reader.read(typeof c === 'string' ? Buffer.from(c, 'utf8') : Uint8Array.from(c));
  return { answers, cancelled };
}

test('answers end at CR or LF, each as typed, typed-ahead ones too', () => {
  expect(typed('one\rtwo\nthree')).toEqual({ answers: ['one', 'two'], cancelled: false });
  // CR LF is one Enter, even split across reads; LF LF and CR CR are two.
  expect(typed('a\r\nb\r').answers).toEqual(['a', 'b']);
  expect(typed('a\r', '\nb\n\nc\r\r').answers).toEqual(['a', 'b', '', 'c', '']);
});

test('Backspace (DEL or BS) erases a whole character, multi-byte ones included', () => {
  expect(typed('abc\x7f\x08d\r').answers).toEqual(['ad']);
  expect(typed('pé\x7fe\r').answers).toEqual(['pe']);
  expect(typed('p😀\x7f!\r').answers).toEqual(['p!']);
  expect(typed('\x7f\x7fx\r').answers).toEqual(['x']);
});

test('Ctrl-U starts the answer again, Ctrl-W erases its last word', () => {
  expect(typed('wrong\x15right\r').answers).toEqual(['right']);
  expect(typed('one two  \x17three\r').answers).toEqual(['one three']);
});

test('escape sequences are dropped whole, even split across reads', () => {
  // Up, Right, F5, F1 (SS3), Alt-x, a paste's brackets.
  expect(typed('a\x1b[Ab\x1b[C\x1b[15~c\x1bOPd\x1bxe\x1b[200~f\x1b[201~\r').answers).toEqual(['abcdef']);
  expect(typed('a\x1b', '[', '1', '5', '~b\r').answers).toEqual(['ab']);
});

test('Ctrl-C cancels, at once, whatever follows', () => {
  expect(typed('secret\x03\r')).toEqual({ answers: [], cancelled: true });
  expect(typed('first\r', 'sec\x03ond\r')).toEqual({ answers: ['first'], cancelled: true });
});

test('Ctrl-D cancels an empty answer and is dropped in a started one; Ctrl-Z is dropped', () => {
  expect(typed('\x04')).toEqual({ answers: [], cancelled: true });
  expect(typed('ab\x04c\x1ad\r')).toEqual({ answers: ['abcd'], cancelled: false });
});

test('other control characters and bytes stay, for the prompt to refuse', () => {
  expect(typed('a\tb\x01c\r').answers).toEqual(['a\tb\x01c']);
  const raw: string[] = [];
  new LineReader(
    (l) => raw.push(l.toString('hex')),
    () => undefined,
  ).read(Uint8Array.from([0x61, 0xff, 0x0d]));
  expect(raw).toEqual(['61ff']);
});
