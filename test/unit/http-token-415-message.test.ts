/**
 * Found by a review of the token endpoint's protocol: a token POST refused with 415 (a charset or
 * Content-Encoding regauth cannot decode) was told "malformed request", which names the wrong
 * problem: the form is well formed, its encoding is what regauth does not take. docs/http-api.md
 * lists 415 for exactly this case; the reply says which, as every other refusal of the endpoint
 * names what was wrong.
 */
import { expect, test } from 'vitest';
import { useAliceServer } from '../helpers/server.js';

const server = useAliceServer('pw');

const form = 'grant_type=password&username=alice&password=pw&service=r&client_id=x';

test.each([
  [
    'an unknown Content-Encoding',
    { 'content-encoding': 'compress' },
    /Content-Encoding.*identity, gzip, deflate, (or br|br or zstd)$/,
  ],
  [
    'x-gzip',
    { 'content-encoding': 'x-gzip' },
    /Content-Encoding.*identity, gzip, deflate, (or br|br or zstd)$/,
  ],
  [
    'an unknown charset',
    { 'content-type': 'application/x-www-form-urlencoded; charset=bogus' },
    /charset.*utf-8/,
  ],
] as const)('415 for %s names what it refuses, not "malformed request"', async (_n, extra, named) => {
  const res = await fetch(`${server().url}/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...extra },
    body: form,
  });
  expect(res.status).toBe(415);
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  const body = (await res.json()) as { error: string; error_description: string };
  expect(body.error).toBe('invalid_request');
  expect(body.error_description).toMatch(named);
});
