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
  const progress = progressLine(
    (t) => void (out += t),
    () => now,
  );
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
  p.at(1000);
  p.progress('replay: 50,000 lines read');
  p.at(1500);
  p.progress('replay: 70,000 lines read');
  p.at(2000);
  p.progress('replay: 100,000 lines read');
  p.progress(null);
  expect(p.out()).toBe('\r\u001b[Kreplay: 50,000 lines read\r\u001b[Kreplay: 100,000 lines read\r\u001b[K');
});

test('erasing twice writes once', () => {
  const p = printer();
  p.at(5000);
  p.progress('x');
  p.progress(null);
  p.progress(null);
  expect(p.out()).toBe('\r\u001b[Kx\r\u001b[K');
});
