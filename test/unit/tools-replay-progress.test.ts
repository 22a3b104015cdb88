import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { auditLine } from '../helpers/audit-line.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * `regauth replay` reads about a million audit lines in 20 s, and said nothing meanwhile (note of
 * stop 46). On a terminal it now keeps a progress line on stderr (src/cli/progress.ts decides
 * when to show it): the lines read so far and the file being read, erased before the report.
 */
const tmp = tempDir('regauth-tools-replay-progress-');
afterAll(() => tmp.cleanup());

let configFile = '';
let first = '';
let second = '';

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.test]}
users:
  alice: {password: "${hash('alice-pw-1')}"}
acl:
  - match: {account: alice}
    actions: [pull]
`,
  );
  const line = (i: number) => auditLine({ requestId: `r${i}` });
  // Several read chunks (1 MiB each) per file.
  first = join(tmp.dir, 'audit.log.1');
  second = join(tmp.dir, 'audit.log');
  writeFileSync(first, Array.from({ length: 12_000 }, (_, i) => `${line(i)}\n`).join(''));
  writeFileSync(second, Array.from({ length: 3_000 }, (_, i) => `${line(i)}\n`).join(''));
});

test('on a terminal: progress with the lines read and the file, growing, then erased', async () => {
  const shown: (string | null)[] = [];
  const run = await regauth(['replay', '--audit', first, '--audit', second, '-c', configFile], '', {
    progress: (text) => void shown.push(text),
  });
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('replayed 15,000 lines');
  const texts = shown.filter((t): t is string => t !== null);
  expect(texts.length).toBeGreaterThan(2);
  for (const t of texts) expect(t).toMatch(/^replay: [\d,]+ lines read \(.*audit\.log(\.1)?\)$/);
  expect(texts.some((t) => t.endsWith('audit.log.1)'))).toBe(true);
  expect(texts.at(-1)).toBe(`replay: 15,000 lines read (${second})`);
  const counts = texts.map((t) => Number(/([\d,]+) lines/.exec(t)![1]!.replaceAll(',', '')));
  expect(counts).toEqual([...counts].sort((a, b) => a - b));
  // Erased when the reading is done, before the report is written.
  expect(shown.at(-1)).toBeNull();
});

test('without a terminal (no progress in the IO) the run is the same', async () => {
  const run = await regauth(['replay', '--audit', first, '-c', configFile]);
  expect(run.code).toBe(0);
  expect(run.stderr).toBe('');
});
