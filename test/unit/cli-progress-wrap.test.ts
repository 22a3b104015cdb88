import { afterEach, expect, test, vi } from 'vitest';

/**
 * Found by a review of "Show replay's progress on a terminal" (8af8162). The progress line is kept "rewritten
 * in place" and "erased before the report" with `\r` then `ESC [ K` (src/cli/progress.ts). Those
 * act on the cursor's row only. The line is `replay: 1,200,000 lines read (FILE)` with the whole
 * `--audit` path in it, and nothing bounds it to the terminal's width (process.stderr.columns):
 * a path of some 50 characters (`/var/log/regauth/archive/audit-2026-11-30.log.gz`) makes it
 * wrap on an 80-column terminal, more so in a split pane. The terminal then puts it on two rows;
 * `\r` goes back to the start of the second only, so every rewrite leaves the first row of the
 * previous one on screen (a growing stack of stale progress lines), and the final erase leaves
 * the head of the last one above the report: neither rewritten in place nor erased.
 *
 * The test takes the process's own IO on a terminal (processIO.progress, created when stderr
 * is a TTY) with a 60-column stderr, shows a few progress lines a second apart and erases them,
 * and replays what was written on a minimal terminal model (wrap at the last column, CR, LF, and
 * the CSI sequences a fix might use: K, J, A, F, G). Expected: the screen is blank afterwards,
 * as it is for a line that fits (checked first). A fix may cut the line to the width or erase
 * the rows it took; either passes.
 */

const COLUMNS = 60;

/** What a terminal of `columns` shows after `output`: its rows, trailing blanks trimmed. */
function screen(output: string, columns: number): string[] {
  const rows: string[][] = [[]];
  let row = 0;
  let col = 0;
  let pendingWrap = false;
  const line = () => (rows[row] ??= []);
  for (let i = 0; i < output.length; i++) {
    const ch = output[i]!;
    if (ch === '\r') {
      col = 0;
      pendingWrap = false;
    } else if (ch === '\n') {
      row++;
      line();
      pendingWrap = false;
    } else if (ch === '\u001b' && output[i + 1] === '[') {
      const m = /^\u001b\[([\d;]*)([A-Za-z])/.exec(output.slice(i))!;
      i += m[0].length - 1;
      const n = m[1] === '' ? undefined : Number(m[1]);
      pendingWrap = false;
      switch (m[2]) {
        case 'K':
          if ((n ?? 0) === 0) line().length = Math.min(line().length, col);
          else if (n === 2) rows[row] = [];
          else for (let c = 0; c <= col && c < line().length; c++) line()[c] = ' ';
          break;
        case 'J':
          if ((n ?? 0) === 0) {
            line().length = Math.min(line().length, col);
            rows.length = row + 1;
          }
          break;
        case 'A':
          row = Math.max(0, row - (n ?? 1));
          break;
        case 'F':
          row = Math.max(0, row - (n ?? 1));
          col = 0;
          break;
        case 'G':
          col = (n ?? 1) - 1;
          break;
        default:
          throw new Error(`unmodelled sequence ${JSON.stringify(m[0])}`);
      }
    } else {
      if (pendingWrap) {
        row++;
        col = 0;
        pendingWrap = false;
      }
      const cells = line();
      while (cells.length < col) cells.push(' ');
      cells[col] = ch;
      if (col === columns - 1) pendingWrap = true;
      else col++;
    }
  }
  return rows.map((r) => r.join('').trimEnd());
}

const saved = {
  isTTY: Object.getOwnPropertyDescriptor(process.stderr, 'isTTY'),
  columns: Object.getOwnPropertyDescriptor(process.stderr, 'columns'),
};

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
  for (const [key, d] of Object.entries(saved)) {
    if (d) Object.defineProperty(process.stderr, key, d);
    else delete (process.stderr as unknown as Record<string, unknown>)[key];
  }
});

/** What processIO.progress writes on a `columns`-wide terminal for `texts` shown a second apart, then erased. */
async function shownOnTerminal(texts: readonly string[]): Promise<string> {
  Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true, writable: true });
  Object.defineProperty(process.stderr, 'columns', { value: COLUMNS, configurable: true, writable: true });
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2026-12-03T10:00:00Z'));
  let written = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  });
  vi.resetModules();
  const { processIO } = await import('../../src/cli/tools.js');
  const progress = processIO.progress;
  expect(progress, 'processIO has a progress line when stderr is a terminal').toBeTypeOf('function');
  let t = Date.now();
  for (const text of texts) {
    t += 1_500;
    vi.setSystemTime(t);
    progress!(text);
  }
  progress!(null);
  return written;
}

const texts = (file: string) =>
  ['120,000', '250,000', '390,000', '510,000'].map((n) => `replay: ${n} lines read (${file})`);

test('a progress line that fits the terminal is shown and erased (sanity)', async () => {
  const written = await shownOnTerminal(texts('audit.log'));
  expect(written).toContain('replay: 510,000 lines read (audit.log)');
  expect(screen(written, COLUMNS).every((r) => r === '')).toBe(true);
});

test('a progress line wider than the terminal leaves nothing on screen once erased', async () => {
  const file = '/var/log/regauth/archive/audit-2026-11-30.log.gz';
  const written = await shownOnTerminal(texts(file));
  expect(written).toContain('lines read');
  // Before the report: a blank screen, not the heads of wrapped progress lines.
  expect(screen(written, COLUMNS).filter((r) => r !== '')).toEqual([]);
});
