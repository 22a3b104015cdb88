/**
 * Found by a review of refresh tokens: docs/http-api.md says a parameter the request does not
 * read is ignored, once or twice. The refresh grant returns the refresh token it was given and
 * offers none (access_type means nothing to it), yet `access_type` given twice was a 400 there.
 */
import { expect, test } from 'vitest';
import { parseTokenRequest } from '../../src/request/token-request.js';

const post = (body: string) =>
  parseTokenRequest({ method: 'POST', query: '', authorization: undefined, body });

test('a refresh grant ignores access_type, once or twice', () => {
  const body = 'grant_type=refresh_token&refresh_token=abc&service=reg';
  expect(post(`${body}&access_type=offline&access_type=online`)).toMatchObject({
    grant: 'refresh_token',
    offline: false,
  });
  expect(post(`${body}&access_type=offline`)).toMatchObject({ grant: 'refresh_token', offline: false });
});

test('a password grant still reads access_type, and refuses it twice', () => {
  const body = 'grant_type=password&username=alice&password=pw&service=reg';
  expect(post(`${body}&access_type=offline`)).toMatchObject({ grant: 'password', offline: true });
  expect(() => post(`${body}&access_type=offline&access_type=offline`)).toThrow(
    'parameter access_type given more than once',
  );
});
