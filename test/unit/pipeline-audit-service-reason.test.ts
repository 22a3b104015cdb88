/**
 * Found by a review of a64b7f8 (audit: no token in client_id or service). The audit line shows a
 * token-shaped `service` as "(a token, not shown)", but with `token.services` set (a production
 * config listing its registry) such a service is refused by checkService with BadRequestError
 * `unknown service "<first 80 characters>…"` (src/pipeline/pipeline.ts refusedService, quote()),
 * and that message is the same line's `reason` (src/pipeline/audit.ts auditRecord): the token's
 * header and the start of its payload (a CI job JWT's claims: project, user e-mail…) are logged.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const tmp = tempDir('regauth-audit-service-reason-');
const password = randomPassword();
let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.test]}
users:
  alice: {password: "${hash(password)}"}
acl: [{match: {account: alice}, actions: [pull]}]
`,
  });
});
afterAll(async () => {
  await s.server.close();
  tmp.cleanup();
});

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
/** A CI job JWT's shape: its payload names the user. */
const jwt = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ email: 'alice@example.com', sub: 'project_path:acme/app' })}.${'s'.repeat(342)}`;

async function linesOf(send: () => Promise<Response>): Promise<string[]> {
  const before = s.logs.length;
  await (await send()).arrayBuffer();
  await new Promise((r) => setTimeout(r, 50));
  return s.logs.slice(before);
}

test('precondition: the value is what the audit line calls token-shaped', async () => {
  const lines = await linesOf(() =>
    fetch(`${s.url}/auth?service=${jwt}`, { headers: { authorization: basic('alice', password) } }),
  );
  expect(JSON.parse(lines.at(-1)!)).toMatchObject({ service: '(a token, not shown)', status: 400 });
});

test('a token sent as service and refused by token.services: no part of its payload is logged', async () => {
  const lines = await linesOf(() =>
    fetch(`${s.url}/auth?service=${jwt}&scope=repository:alice/app:pull`, {
      headers: { authorization: basic('alice', password) },
    }),
  );
  expect(lines.length).toBeGreaterThan(0);
  const payloadStart = jwt.split('.')[1]!.slice(0, 16);
  expect(lines.filter((l) => l.includes(payloadStart))).toEqual([]);
});
