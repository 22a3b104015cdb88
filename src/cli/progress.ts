/**
 * A progress line for long work on a terminal: one line on stderr, rewritten in place (`\r`, then
 * erase to the end of the line) at most once per `everyMs`, shown only once the work has run that
 * long (work that ends sooner shows nothing; the clock starts at the first report), and erased by
 * `null` so what follows starts on a clean line. The caller reports as often as it likes; this
 * decides what reaches the terminal. `\r` and the erase act on the cursor's row only, so a line
 * is cut to the terminal's width (`columns`): one that wrapped would leave its first rows behind.
 * The text must hold no control characters (the caller escapes what it did not write).
 */
export function progressLine(
  write: (text: string) => void,
  options: { now?: () => number; everyMs?: number; columns?: () => number | undefined } = {},
): (text: string | null) => void {
  const now = options.now ?? Date.now;
  const everyMs = options.everyMs ?? 1000;
  let next: number | undefined;
  let shown = false;
  return (text) => {
    if (text === null) {
      if (shown) write('\r\u001b[K');
      shown = false;
      next = undefined;
      return;
    }
    const t = now();
    if (next === undefined) next = t + everyMs;
    if (t < next) return;
    next = t + everyMs;
    write(`\r\u001b[K${fit(text, options.columns?.())}`);
    shown = true;
  };
}

/**
 * `text` cut to fit a row of `columns` (undefined: not cut), leaving the last column free (a
 * character there puts some terminals in a pending wrap), and ending in `...` when cut. Each
 * character outside ASCII counts as two columns, as the widest take: cut too short rather than
 * wrap.
 */
function fit(text: string, columns: number | undefined): string {
  if (columns === undefined || !(columns > 1)) return text;
  const room = columns - 1;
  const widthOf = (ch: string) => (ch.charCodeAt(0) < 0x80 ? 1 : 2);
  const chars = Array.from(text);
  let width = chars.reduce((w, ch) => w + widthOf(ch), 0);
  if (width <= room) return text;
  const dots = room > 3 ? '...' : '';
  while (chars.length > 0 && width + dots.length > room) width -= widthOf(chars.pop()!);
  return chars.join('') + dots;
}
