import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { aliceConfig, startTestServer, type TestServer } from '../helpers/server.js';

// Found by a review. A request asking for an upgrade is marked to close
// (readableTargetsOnly calls closeAfterReply), but when it also carries `Expect: 100-continue`,
// checkContinue marked it first, and continueIfAwaited's undo (taken before the Upgrade mark)
// restored `shouldKeepAlive` and lifted the mark once the body is read: the upgrade request's
// reply went out with keep-alive again, node's parser had dropped what was pipelined behind it in
// the same read, and the connection hung until the keep-alive deadline.
const tmp = tempDir('regauth-upgrade-expect-');
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: aliceConfig('pw', ['headers_timeout: 3']),
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

/** Sends `data`; resolves with what came back and how long until the server closed (or 2.5 s). */
function exchange(data: string): Promise<{ text: string; ms: number; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const s = connect({ port: Number(new URL(srv.url).port), host: '127.0.0.1' });
    let text = '';
    let timedOut = false;
    s.on('error', () => undefined);
    s.on('data', (d) => (text += d));
    s.on('close', () => resolve({ text, ms: Date.now() - started, closedByServer: !timedOut }));
    s.write(data);
    setTimeout(() => {
      timedOut = true;
      s.destroy();
    }, 2500);
  });
}

const FORM = 'grant_type=password&service=reg&username=alice&password=wrong';
const upgradePost = (expectContinue: boolean) =>
  'POST /auth HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  (expectContinue ? 'Expect: 100-continue\r\n' : '') +
  `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${FORM.length}\r\n\r\n${FORM}`;
const BEHIND = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';

test.each([
  ['without Expect', false],
  ['with Expect: 100-continue', true],
])(
  'an upgrade POST %s: its reply closes the connection, nothing behind it waits',
  async (_what, withExpect) => {
    const { text, ms, closedByServer } = await exchange(upgradePost(withExpect) + BEHIND);
    const finals = (text.match(/HTTP\/1\.1 \d{3}/g) ?? []).filter((s) => s !== 'HTTP/1.1 100');
    expect(finals).toEqual(['HTTP/1.1 401']);
    expect(text).toMatch(/\r\nConnection: close\r\n/i);
    expect(closedByServer).toBe(true);
    expect(ms).toBeLessThan(1000);
  },
);
