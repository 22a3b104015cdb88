import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { auditLine } from '../helpers/audit-line.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by a review of "Show replay's progress on a terminal" (8af8162). The progress line is written to the
 * terminal as `replay: N lines read (FILE)`, with FILE, the `--audit` path, interpolated raw
 * (src/cli/tools.ts, the replay action's onProgress). A file name may hold any byte but `/` and
 * NUL: escape sequences (`ESC [ 2 J` clears the screen, `ESC ] 0 ; … BEL` retitles the window,
 * colours, cursor moves) and line breaks reach the operator's terminal as its own controls, and
 * can forge lines there. Log directories are often written by others (rotated archives, files
 * collected from hosts), and the operator typically runs `regauth replay --audit dir/*`.
 *
 * The rest of the replay output never does this: the report's "malformed" list shows file names
 * through replay.ts `shown()`, quoted with every control and invisible character escaped, for
 * exactly this reason ("a terminal must not read them as its own controls"). The progress line
 * should show the name the same way (or otherwise escaped): no control character may reach the
 * terminal from it.
 */
const tmp = tempDir('regauth-review-progress-name-');
afterAll(() => tmp.cleanup());

let configFile = '';
let audit = '';

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
  const line = auditLine();
  // Clear the screen, paint a forged line in red, retitle the window; a line break, and C1 CSI.
  audit = join(tmp.dir, 'audit\u001b[2J\u001b[31mALL CLEAR\u001b]0;pwned\u0007\nx\u009b1A.log');
  writeFileSync(audit, `${line}\n`.repeat(100));
});

test('the progress line shows a file name without writing its control characters raw', async () => {
  const shown: (string | null)[] = [];
  const run = await regauth(['replay', '--audit', audit, '-c', configFile], '', {
    progress: (text) => void shown.push(text),
  });
  expect(run.code, run.stderr).toBe(0);
  const texts = shown.filter((t): t is string => t !== null);
  expect(texts.length).toBeGreaterThan(0);
  for (const t of texts) {
    expect(t).toMatch(/^replay: [\d,]+ lines read \(/);
    // No C0 control (ESC, BEL, LF…), DEL or C1 control (CSI U+009B) from the file name.
    expect(t).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  }
});
