import { afterAll, beforeAll, expect, test } from 'vitest';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Found by a review of the HTTP surface. docs/http-api.md: "Messages name what was wrong with the request, never a password or token";
// docs/security.md: passwords and tokens never appear in a log line, an error or the audit line.
// An unsupported grant_type is answered with the first 64 characters of the value it holds
// (src/core/errors.ts UnsupportedGrantError), and the audit line repeats that message as its
// `reason`. A form whose fields are not separated by `&` (one field a line, as a form file sent
// with `curl --data-binary @file` is, or `;` as HTML 4 allowed) is one field, grant_type, whose
// value holds the username and the password after it: both are sent back and written to the log.

const tmp = tempDir();
const password = randomPassword();
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
  ['one field a line', `grant_type=password\nusername=alice\npassword=${password}\nservice=reg\n`],
  ['CRLF lines', `grant_type=password\r\nusername=alice\r\npassword=${password}\r\n`],
  ['fields separated by ;', `grant_type=password;username=alice;password=${password}`],
])(
  'a form with %s: 400 unsupported_grant_type without the password, in the reply or the log',
  async (_name, body) => {
    const res = await fetch(`${s.url}/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({ error: 'unsupported_grant_type' });
    // Today: `unsupported grant_type "password\nusername=alice\npassword=pw-…"`, in both.
    expect(text).not.toContain(password);
    expect(s.logs.filter((line) => line.includes(password))).toEqual([]);
  },
);

test('a grant type regauth does not serve is still named', async () => {
  const res = await fetch(`${s.url}/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&service=reg',
  });
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({
    error: 'unsupported_grant_type',
    error_description: 'unsupported grant_type "urn:ietf:params:oauth:grant-type:jwt-bearer"',
  });
});
