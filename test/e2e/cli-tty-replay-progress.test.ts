/**
 * `regauth replay` on a terminal keeps a progress line on stderr while it reads (about a million
 * audit lines take it 5 to 25 s), rewritten in place and erased before the report; with stderr
 * not a terminal it writes none. Run through script(1), as an operator's shell runs it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { auditLine } from '../helpers/audit-line.js';
import { tempDir } from '../helpers/fixtures.js';
import { needTerminal, onTerminal, regauthLine, word } from './harness/terminal.js';

const tmp = tempDir('regauth-tty-replay-');
afterAll(() => tmp.cleanup());

const LINES_PER_MEMBER = 100_000;
/**
 * How long a replay of these 1.6 million lines may run before its terminal is killed (each test
 * allows 30 s more): 5 to 25 s alone, and past the harness's 15 s on the slower AMD machine beside
 * the other test files.
 */
const REPLAY_MS = 90_000;
const MEMBERS = 16;
let config = '';
let audit = '';

beforeAll(() => {
  needTerminal();
  config = join(tmp.dir, 'config.yml');
  writeFileSync(
    config,
    'token: {issuer: t}\nusers:\n  alice: {}\nacl:\n  - match: {account: alice}\n    actions: [pull]\n',
  );
  const line = (i: number) => auditLine({ requestId: `r${i}`, service: 'registry' });
  const member = gzipSync(Array.from({ length: LINES_PER_MEMBER }, (_, i) => `${line(i)}\n`).join(''));
  // A gzip file of several members, as `cat a.gz b.gz` makes: read as one stream.
  audit = join(tmp.dir, 'audit.log.gz');
  writeFileSync(audit, Buffer.concat(Array.from({ length: MEMBERS }, () => member)));
}, 180_000);

test('on a terminal: a progress line while reading, erased before the report', async () => {
  const out = join(tmp.dir, 'report.txt');
  const run = await onTerminal(
    `${regauthLine(`replay --audit ${word(audit)} -c ${word(config)}`)} > ${word(out)}`,
    async () => {},
    'dumb',
    REPLAY_MS,
  );
  expect(run.code).toBe(0);
  const shown = [...run.screen.matchAll(/\r\u001b\[Kreplay: ([\d,]+) lines read \(([^)]*)\)/g)];
  expect(shown.length).toBeGreaterThan(0);
  expect(shown.every((m) => m[2] === audit)).toBe(true);
  const counts = shown.map((m) => Number(m[1]!.replaceAll(',', '')));
  expect(counts).toEqual([...counts].sort((a, b) => a - b));
  expect(counts.at(-1)).toBeLessThanOrEqual(LINES_PER_MEMBER * MEMBERS);
  // Erased at the end: the terminal's last output is the erasing sequence.
  expect(run.screen.endsWith('\r\u001b[K')).toBe(true);
  expect(readFileSync(out, 'utf8')).toContain(
    `replayed ${(LINES_PER_MEMBER * MEMBERS).toLocaleString('en-US')} lines`,
  );
}, 120_000);

test('stderr not a terminal: no progress line', async () => {
  const err = join(tmp.dir, 'stderr.txt');
  const run = await onTerminal(
    `${regauthLine(`replay --audit ${word(audit)} -c ${word(config)}`)} 2> ${word(err)}`,
    async () => {},
    'dumb',
    REPLAY_MS,
  );
  expect(run.code).toBe(0);
  expect(run.screen).toContain('no decision changes');
  expect(run.screen).not.toContain('lines read');
  expect(readFileSync(err, 'utf8')).toBe('');
}, 120_000);

test('on a narrow terminal: each progress line is cut to its width, so none wraps', async () => {
  const out = join(tmp.dir, 'report-narrow.txt');
  const run = await onTerminal(
    `stty cols 40 && ${regauthLine(`replay --audit ${word(audit)} -c ${word(config)}`)} > ${word(out)}`,
    async () => {},
    'dumb',
    REPLAY_MS,
  );
  expect(run.code).toBe(0);
  const shown = run.screen
    .split('\r\u001b[K')
    .slice(1)
    .filter((t) => t !== '');
  expect(shown.length).toBeGreaterThan(0);
  for (const line of shown) {
    expect(line).toMatch(/^replay: [\d,]+ lines read/);
    expect(line.length).toBeLessThanOrEqual(39);
    expect(line.endsWith('...')).toBe(true);
  }
}, 120_000);
