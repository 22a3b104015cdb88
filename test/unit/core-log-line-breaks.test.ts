import { expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { basic } from '../helpers/fixtures.js';
import { logSink, useAliceServer } from '../helpers/server.js';

/**
 * Found by a review of the audit line (src/pipeline/audit.ts, src/core/log.ts). Account names are refused when they hold
 * "whitespace of any kind ..., control characters (C0, C1, DEL), format characters (zero-width
 * and bidi marks ...)" because "Account names end up in tokens, logs and commands' stdin"
 * (src/core/account-name.ts). The other client-written values of the audit line get no such
 * rule: `clientId` and `service` are written as sent, and `reason` quotes a refused scope or
 * service with JSON.stringify. JSON (and pino, and pino-pretty) escape only C0 controls, so a
 * client can put into the line, raw:
 *
 * - U+0085 (NEL, a C1 control: a line break to xterm and other terminals that act on C1
 *   controls, to Python's str.splitlines() and to many log viewers), U+2028 / U+2029 (line and
 *   paragraph separators: line breaks to splitlines(), JavaScript's `^`/`$` and editors);
 * - U+009B (CSI, the C1 form of ESC [): a terminal escape sequence, which ESC itself (escaped
 *   as \u001b) cannot be;
 * - U+202E (right-to-left override): the rest of the line shown reversed.
 *
 * With `log.format: auto` on a terminal (pretty) the line is printed to the terminal itself; in
 * JSON it is what `docker logs`, `kubectl logs` or a splitlines()-based reader shows.
 */
const password = 'alice-pw-123';
const s = useAliceServer(password);

/** Line breaks, C1 controls and bidi controls that JSON leaves as they are. */
const UNESCAPED_BREAKS = /[\u0080-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const FORGED = '{"level":30,"app":"regauth","outcome":"granted","account":"admin","msg":"token issued"}';

test('a client_id holding NEL, U+2028, CSI or RLO does not reach the audit line raw', async () => {
  const clientId = `docker\u0085${FORGED}\u2028${FORGED}\u009b2J\u202e`;
  const res = await fetch(
    `${s().url}/auth?service=registry&scope=repository:a:pull&client_id=${encodeURIComponent(clientId)}`,
    { headers: { authorization: basic('alice', password) } },
  );
  await res.arrayBuffer();
  const line = s().logs.find((l) => (JSON.parse(l) as { clientId?: string }).clientId?.startsWith('docker'));
  expect(line, 'the audit line of the request').toBeDefined();
  // Escaped: no line break a reader acts on, and the same value to a JSON parser.
  expect(line!.match(UNESCAPED_BREAKS)?.[0], line).toBeUndefined();
  expect((JSON.parse(line!) as { clientId: string }).clientId).toBe(clientId);
});

test('a service holding NEL or U+2028 does not reach the audit line raw', async () => {
  const service = `registry\u0085${FORGED}\u2028${FORGED}`;
  const res = await fetch(`${s().url}/auth?service=${encodeURIComponent(service)}`, {
    headers: { authorization: basic('alice', password) },
  });
  await res.arrayBuffer();
  const line = s().logs.find((l) =>
    (JSON.parse(l) as { service?: string }).service?.startsWith('registry\u0085'),
  );
  expect(line, 'the audit line of the request').toBeDefined();
  expect(line!.match(UNESCAPED_BREAKS)?.[0], line).toBeUndefined();
});

test('a refused scope quoted in `reason` does not bring NEL or U+2028 into the audit line', async () => {
  const res = await fetch(`${s().url}/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      username: 'alice',
      password,
      scope: `x\u0085${FORGED.replace(/:/g, '')}\u2028:a:pull`,
    }).toString(),
  });
  await res.arrayBuffer();
  expect(res.status).toBe(400);
  const line = s().logs.find((l) => l.includes('"method":"POST"') && l.includes('malformed scope'));
  expect(line, 'the audit line of the refused request').toBeDefined();
  expect(line!.match(UNESCAPED_BREAKS)?.[0], line).toBeUndefined();
});

test('log.format pretty (a terminal) does not print CSI or NEL from a client_id raw', () => {
  const sink = logSink();
  const logger = createLogger({ format: 'pretty', destination: sink.stream });
  // The same record the token endpoint logs for such a client_id.
  logger.info({ requestId: 'r', clientId: 'docker\u009b2J\u0085forged' }, 'token issued');
  const text = sink.lines.join('');
  expect(text.match(UNESCAPED_BREAKS)?.[0]).toBeUndefined();
  // Shown as escapes a reader can see.
  expect(text).toContain('u009b2J');
  expect(text).toContain('u0085forged');
});
