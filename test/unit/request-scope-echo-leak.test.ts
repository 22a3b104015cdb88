/**
 * Found by a review of e3bd407 ("Name an unsupported grant_type only when it looks like one").
 *
 * docs/http-api.md: "Messages name what was wrong with the request, never a password or token";
 * the audit line repeats a 400's message as its `reason`. e3bd407 stopped echoing grant_type for a
 * form whose fields are separated by line breaks or `;` (then one field holds everything after
 * it, the password included), but the same form with `scope` as its first field is one field,
 * scope, and parseScopes (src/request/scope.ts) quotes up to 80 characters of it in
 * `malformed actions "…"` / `invalid repository name "…"`: the password (or the head of a refresh
 * token) goes back in the reply and into the log. The scope is parsed before grant_type is looked
 * at (src/request/token-request.ts parsePost), so "missing grant_type" never comes first.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { refusedService } from '../../src/pipeline/pipeline.js';
import { hash, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const tmp = tempDir();
// Short enough to fall inside the 80 characters quoted; ':' makes the name the quoted part.
const password = `pw${Math.random().toString(36).slice(2, 10)}`;
const colonPassword = `p:${Math.random().toString(36).slice(2, 10)}`;
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  alice: {password: "${hash(password)}"}
acl: [{match: {}, actions: [pull]}]
`,
  });
});
afterAll(async () => {
  await s.server.close(100);
  tmp.cleanup();
});

test.each([
  [
    'one field a line, scope first',
    (pw: string) => `scope=repository:a:pull\ngrant_type=password\nusername=alice\npassword=${pw}\n`,
  ],
  [
    'CRLF lines, scope first',
    (pw: string) => `scope=repository:a:pull\r\ngrant_type=password\r\nusername=alice\r\npassword=${pw}\r\n`,
  ],
  [
    'fields separated by ;, scope first',
    (pw: string) => `scope=repository:a:pull;grant_type=password;username=alice;password=${pw}`,
  ],
])('a form with %s: the 400 quotes no password, in the reply or the log', async (_name, body) => {
  for (const pw of [password, colonPassword]) {
    const res = await fetch(`${s.url}/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body(pw),
    });
    const text = await res.text();
    expect(res.status).toBe(400);
    // Today: {"error":"invalid_scope","error_description":"malformed actions \"pull\\ngrant_type=password\\nusername=alice\\npassword=pw…\" in scope"}
    expect(text).not.toContain(pw.slice(0, 6));
    expect(s.logs.filter((line) => line.includes(pw.slice(0, 6)))).toEqual([]);
  }
});

test('a service holding the fields after it (separated by ;) is not quoted in its refusal', () => {
  const refused = refusedService(['reg'], `reg;grant_type=password;username=alice;password=${password}`);
  expect(refused).toMatch(/^unknown service \(not shown/);
  expect(refused).not.toContain(password);
  expect(refusedService(['reg'], 'other')).toBe('unknown service "other"');
});

test('a malformed scope of an ordinary request is still quoted', async () => {
  const res = await fetch(`${s.url}/auth?service=reg&scope=repository:a:pu%21ll`);
  expect(res.status).toBe(400);
  expect(((await res.json()) as { errors: { message: string }[] }).errors[0]!.message).toBe(
    'malformed actions "pu!ll" in scope',
  );
});
