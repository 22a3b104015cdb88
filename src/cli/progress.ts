/**
 * A progress line for long work on a terminal: one line on stderr, rewritten in place (`\r`, then
 * erase to the end of the line) at most once per `everyMs`, shown only once the work has run that
 * long (work that ends sooner shows nothing), and erased by `null` so what follows starts on a
 * clean line. The caller reports as often as it likes; this decides what reaches the terminal.
 */
export function progressLine(
  write: (text: string) => void,
  now: () => number = Date.now,
  everyMs = 1000,
): (text: string | null) => void {
  let next = now() + everyMs;
  let shown = false;
  return (text) => {
    if (text === null) {
      if (shown) write('\r\u001b[K');
      shown = false;
      return;
    }
    const t = now();
    if (t < next) return;
    next = t + everyMs;
    write(`\r\u001b[K${text}`);
    shown = true;
  };
}
