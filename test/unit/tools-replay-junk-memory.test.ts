import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadForTool, type ToolIO } from '../../src/cli/tools.js';
import type { Config } from '../../src/config/load.js';
import { replayAudit } from '../../src/tools/replay.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Found by an adversarial review. docs/cli.md: "The lines are streamed: memory grows with the
 * number of distinct decisions, not with the log". replay remembers up to 100,000 parsed lines by
 * their whole text (MAX_SIGNATURES), whatever they are: lines that are not JSON, and log lines
 * without decisions, are kept too, each up to MAX_LINE_BYTES (1 MiB). A file of long lines that
 * are no audit lines at all (the wrong file, a binary, another program's log) holds all of it in
 * memory: 1,000 lines of 256 KB keep about 260 MB with no decision found, and a few GB of such a
 * file end the process with V8's out-of-memory abort instead of a report.
 */
const tmp = tempDir('regauth-review-tools6-mem-');
afterAll(() => tmp.cleanup());

const silent: ToolIO = {
  stdout: () => undefined,
  stderr: () => undefined,
  readStdin: () => Promise.resolve(''),
  setExitCode: () => undefined,
};
let config: Config;

beforeAll(async () => {
  const file = join(tmp.dir, 'c.yml');
  writeFileSync(
    file,
    `token: {issuer: t}
users:
  "": {}
acl:
  - match: {account: ""}
    actions: [pull]
`,
  );
  config = await loadForTool(file, silent, { note: false });
});

test('long lines that are no audit lines are not kept in memory', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const LINES = 1000;
  const pad = 'x'.repeat(256 * 1024);
  gc();
  const base = process.memoryUsage().heapUsed;
  let grown = 0;
  async function* junk() {
    for (let i = 0; i < LINES; i++) {
      yield `not an audit line ${i} ${pad}\n`;
      if (i % 100 === 99) {
        gc();
        grown = Math.max(grown, process.memoryUsage().heapUsed - base);
      }
    }
  }
  const report = await replayAudit([{ name: 'junk', open: junk }], { config });
  expect(report.malformed).toBe(LINES);
  expect(report.distinct).toBe(0);
  // 256 MB of log, nothing to decide: a few MB of bookkeeping at most.
  expect(Math.round(grown / 1e6)).toBeLessThan(64);
}, 120_000);
