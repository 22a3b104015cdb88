import { expect, test } from 'vitest';
import { refusedService } from '../../src/pipeline/pipeline.js';
import { useAliceServer } from '../helpers/server.js';

// Found by a review of the HTTP surface. docs/http-api.md: "Messages name what was wrong with the request, never a password or token";
// docs/security.md: passwords and tokens never appear in a log line, an error or the audit line.
// An unsupported grant_type is answered with the first 64 characters of the value it holds
// (src/core/errors.ts UnsupportedGrantError), and the audit line repeats that message as its
// `reason`. A form whose fields are not separated by `&` (one field a line, as a form file sent
// with `curl --data-binary @file` is, or `;` as HTML 4 allowed) is one field, grant_type, whose
// value holds the username and the password after it: both are sent back and written to the log.
//
// Found by a review of e3bd407 ("Name an unsupported grant_type only when it looks like one").
//
// docs/http-api.md: "Messages name what was wrong with the request, never a password or token";
// the audit line repeats a 400's message as its `reason`. e3bd407 stopped echoing grant_type for a
// form whose fields are separated by line breaks or `;` (then one field holds everything after
// it, the password included), but the same form with `scope` as its first field is one field,
// scope, and parseScopes (src/request/scope.ts) quotes up to 80 characters of it in
// `malformed actions "…"` / `invalid repository name "…"`: the password (or the head of a refresh
// token) goes back in the reply and into the log. The scope is parsed before grant_type is looked
// at (src/request/token-request.ts parsePost), so "missing grant_type" never comes first.

// Short enough to fall inside the 80 characters quoted; ':' makes the name the quoted part.
const password = `pw${Math.random().toString(36).slice(2, 10)}`;
const colonPassword = `p:${Math.random().toString(36).slice(2, 10)}`;
const s = useAliceServer(password);

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
    const res = await fetch(`${s().url}/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body(pw),
    });
    const text = await res.text();
    expect(res.status).toBe(400);
    // Today: {"error":"invalid_scope","error_description":"malformed actions \"pull\\ngrant_type=password\\nusername=alice\\npassword=pw…\" in scope"}
    expect(text).not.toContain(pw.slice(0, 6));
    expect(s().logs.filter((line) => line.includes(pw.slice(0, 6)))).toEqual([]);
  }
});

test('a service holding the fields after it (separated by ;) is not quoted in its refusal', () => {
  const refused = refusedService(['reg'], `reg;grant_type=password;username=alice;password=${password}`);
  expect(refused).toMatch(/^unknown service \(not shown/);
  expect(refused).not.toContain(password);
  expect(refusedService(['reg'], 'other')).toBe('unknown service "other"');
});

test('a malformed scope of an ordinary request is still quoted', async () => {
  const res = await fetch(`${s().url}/auth?service=reg&scope=repository:a:pu%21ll`);
  expect(res.status).toBe(400);
  expect(((await res.json()) as { errors: { message: string }[] }).errors[0]!.message).toBe(
    'malformed actions "pu!ll" in scope',
  );
});

test.each([
  ['one field a line', `grant_type=password\nusername=alice\npassword=${password}\nservice=reg\n`],
  ['CRLF lines', `grant_type=password\r\nusername=alice\r\npassword=${password}\r\n`],
  ['fields separated by ;', `grant_type=password;username=alice;password=${password}`],
])(
  'a form with %s: 400 unsupported_grant_type without the password, in the reply or the log',
  async (_name, body) => {
    const res = await fetch(`${s().url}/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({ error: 'unsupported_grant_type' });
    // Today: `unsupported grant_type "password\nusername=alice\npassword=pw-…"`, in both.
    expect(text).not.toContain(password);
    expect(s().logs.filter((line) => line.includes(password))).toEqual([]);
  },
);

test('a grant type regauth does not serve is still named', async () => {
  const res = await fetch(`${s().url}/auth`, {
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
