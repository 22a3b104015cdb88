import { expect, test } from 'vitest';
import { progressLine } from '../../src/cli/progress.js';

/**
 * The progress line of long work on a terminal (`regauth replay` reads about a million audit
 * lines in 20 s): one line on stderr, rewritten in place at most once a second, nothing for work
 * that ends sooner, and erased when the work ends so the report starts on a clean line.
 */
function printer() {
  let now = 0;
  let out = '';
  const progress = progressLine((t) => void (out += t), { now: () => now });
  return {
    progress,
    at: (ms: number) => void (now = ms),
    out: () => out,
  };
}

test('nothing is shown for work that ends within the first second', () => {
  const p = printer();
  p.at(10);
  p.progress('replay: 1000 lines read');
  p.at(900);
  p.progress('replay: 90000 lines read');
  p.progress(null);
  expect(p.out()).toBe('');
});

test('after a second the line is shown, rewritten at most once a second, then erased', () => {
  const p = printer();
  // The clock starts at the first report.
  p.at(500);
  p.progress('replay: 3,000 lines read');
  p.at(1500);
  p.progress('replay: 50,000 lines read');
  p.at(2000);
  p.progress('replay: 70,000 lines read');
  p.at(2500);
  p.progress('replay: 100,000 lines read');
  p.progress(null);
  expect(p.out()).toBe('\r\u001b[Kreplay: 50,000 lines read\r\u001b[Kreplay: 100,000 lines read\r\u001b[K');
});

test('erasing twice writes once', () => {
  const p = printer();
  p.progress('x');
  p.at(5000);
  p.progress('x');
  p.progress(null);
  p.progress(null);
  expect(p.out()).toBe('\r\u001b[Kx\r\u001b[K');
});

test('the clock starts at the first report, not when the printer is made', () => {
  const p = printer();
  p.at(60_000);
  p.progress('replay: 3,000 lines read');
  expect(p.out()).toBe('');
});

test('cut to the terminal width, the last column left free, ending in ...', () => {
  let out = '';
  const progress = progressLine((t) => void (out += t), { now: () => 0, everyMs: 0, columns: () => 20 });
  progress('replay: 1,000 lines read (audit.log)');
  expect(out).toBe('\r\u001b[Kreplay: 1,000 li...');
  out = '';
  // Outside ASCII a character counts two columns.
  progress('replay: 1 (\u65e5\u672c\u8a9e\u65e5\u672c\u8a9e)');
  expect(out).toBe('\r\u001b[Kreplay: 1 (\u65e5\u672c...');
  out = '';
  progress('fits in 19 columns.');
  expect(out).toBe('\r\u001b[Kfits in 19 columns.');
});
