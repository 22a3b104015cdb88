import { describe, expect, test } from 'vitest';
import { tokenResponse } from '../../src/http/token.js';
import type { TokenResult } from '../../src/pipeline/pipeline.js';
import { Secret } from '../../src/core/secret.js';

/** A compact JWS as the signer writes it: three base64url parts. */
const TOKEN = `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from('{"sub":"alice"}').toString('base64url')}.${Buffer.alloc(64, 7).toString('base64url')}`;

function result(extra: Partial<TokenResult> = {}): TokenResult {
  return {
    token: TOKEN,
    expiresIn: 900,
    issuedAt: '2026-12-03T22:00:00Z',
    account: 'alice',
    authenticatedBy: 'users',
    labels: {},
    access: [],
    decisions: [],
    scope: 'repository:alice/app:pull,push repository:team/"quoted"\\app:pull',
    ...extra,
  };
}

describe('the 200 reply to a token request', () => {
  test('GET: the token twice, its lifetime and issue time, as JSON with its exact length', () => {
    const { body, headers } = tokenResponse(result(), 'GET', 'req-1');
    expect(JSON.parse(body.toString())).toEqual({
      token: TOKEN,
      access_token: TOKEN,
      expires_in: 900,
      issued_at: '2026-12-03T22:00:00Z',
    });
    expect(headers).toEqual([
      'Content-Type',
      'application/json; charset=utf-8',
      'Content-Length',
      String(Buffer.byteLength(body.toString())),
      'Cache-Control',
      'no-store',
      'Pragma',
      'no-cache',
      'X-Request-Id',
      'req-1',
    ]);
  });

  test('POST adds the scope, escaped as JSON; a refresh token is added as given', () => {
    const refresh = 'rt.é"\\\n';
    const { body, headers } = tokenResponse(result({ refreshToken: new Secret(refresh) }), 'POST', 'r');
    expect(JSON.parse(body.toString())).toEqual({
      token: TOKEN,
      access_token: TOKEN,
      expires_in: 900,
      issued_at: '2026-12-03T22:00:00Z',
      scope: 'repository:alice/app:pull,push repository:team/"quoted"\\app:pull',
      refresh_token: refresh,
    });
    expect(headers[3]).toBe(String(Buffer.byteLength(body.toString())));
  });

  test('GET never carries the scope', () => {
    expect(JSON.parse(tokenResponse(result(), 'GET', 'r').body.toString())).not.toHaveProperty('scope');
  });
});
