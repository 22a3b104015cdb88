/**
 * Found by a review of the operational signals. A token request's `ms` (audit line) and
 * `regauth_token_request_duration_seconds` ("Time to answer a token request") are documented as
 * "Milliseconds from arrival to answer" (src/pipeline/audit.ts TokenRequestRecord.ms) and "how
 * long" (docs/operations.md "The fields, each once"). For a POST they start only once its body has
 * been read: createTokenHandler takes its start time when routes.ts calls it, after readForm. A
 * body that takes seconds to arrive (a slow or stalling client reaching regauth directly, which
 * server.request_timeout allows for up to 10 s) is recorded as answered in a millisecond, so the
 * latency histogram and the audit line hide exactly the slow requests that hold connections.
 * A GET is measured from its arrival (the handler runs as its header is read).
 *
 * Fix: src/http/routes.ts (the POST route) reads the arrival time before the body, as it reads the
 * peer, and src/http/token.ts createTokenHandler takes it as its start (`read.started`).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createMetrics } from '../../src/pipeline/metrics.js';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const tmp = tempDir('regauth-review-post-duration-');
const password = randomPassword();
const metrics = createMetrics();
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  alice: {password: "${hash(password)}"}
acl: [{match: {}, actions: [pull]}]
`,
    server: { metrics },
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

const DELAY_MS = 400;

test('a POST whose body arrives late is measured from its arrival, in the audit line and the histogram', async () => {
  const body = new URLSearchParams({
    grant_type: 'password',
    username: 'alice',
    password,
    service: 's',
  }).toString();
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(srv.url).port), '127.0.0.1');
    let out = '';
    socket.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\r\n\r\n') && out.includes('"token"')) socket.end();
    });
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
    socket.write(
      `POST /auth/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    // The body a while after the header.
    setTimeout(() => socket.write(body), DELAY_MS);
  });
  expect(reply).toMatch(/^HTTP\/1\.1 200 /);
  const audit = srv.logs
    .map((l) => JSON.parse(l) as { msg?: string; ms?: number })
    .find((l) => l.msg === 'token issued');
  expect(audit).toBeDefined();
  // The request took at least DELAY_MS from its arrival to its answer.
  expect(audit!.ms).toBeGreaterThanOrEqual(DELAY_MS - 50);
  const { values } = await metrics.tokenDuration.get();
  const sum = values.find(
    (v) => v.metricName === 'regauth_token_request_duration_seconds_sum' && v.labels['outcome'] === 'granted',
  )?.value;
  expect(sum).toBeGreaterThanOrEqual((DELAY_MS - 50) / 1000);
});
