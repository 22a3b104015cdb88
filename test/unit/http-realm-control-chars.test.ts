/**
 * Found by a review of the token protocol. Defect (doc/code mismatch, minor): the Basic realm of a token endpoint 401 writes a control
 * character of `token.issuer` as a JSON escape (`\t`, `\u0001`), not as `?`.
 *
 * docs/http-api.md ("Errors") says: "The 401 challenge is `WWW-Authenticate: Basic
 * realm="<token.issuer>"`, each character of the issuer outside printable ASCII written as `?`",
 * and the comment on headerQuoted in src/http/errors.ts says the same. headerQuoted runs
 * JSON.stringify first, which turns a tab into the two printable characters `\t` and U+0001 into
 * `\u0001`; only what is still outside printable ASCII afterwards becomes `?`. Read as an HTTP
 * quoted-string (RFC 9110 §5.6.4, `\` quotes the next character), `"a\tb"` is the realm `atb`
 * and `"a\u0001b"` is `au0001b`: neither the issuer nor the documented `a?b`. `token.issuer` is
 * any non-empty string (src/config/schema.ts), so such an issuer loads.
 *
 * Expected behaviour: the documented one (docs/http-api.md "Errors"); docker_auth
 * (cesanta/docker_auth auth_server/server/server.go doAuth) writes `Basic realm="%s"` with the
 * issuer, and nothing in the clients reads the realm of a Basic challenge from the token server
 * (distribution internal/client/auth/session.go only reads Bearer challenges), so the realm is
 * display text only, as the docs say.
 *
 * Suggested fix: in headerQuoted, replace every character outside printable ASCII with `?`
 * before quoting (then escape only `"` and `\`), e.g.
 * `'"' + text.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '\\$&') + '"'`.
 */
import type { ServerResponse } from 'node:http';
import { describe, expect, test } from 'vitest';
import { UnauthorizedError } from '../../src/core/errors.js';
import { sendError } from '../../src/http/errors.js';

function fakeResponse(): { res: ServerResponse; headers: Map<string, string> } {
  const headers = new Map<string, string>();
  const res = {
    statusCode: 200,
    setHeader(name: string, value: string | number) {
      headers.set(name.toLowerCase(), String(value));
      return this;
    },
    end() {
      return this;
    },
  } as unknown as ServerResponse;
  return { res, headers };
}

describe('the Basic realm of a 401 writes each character outside printable ASCII as ?', () => {
  test.each([
    ['a tab', 'reg\tauth', 'Basic realm="reg?auth"'],
    ['a C0 control', 'reg\u0001auth', 'Basic realm="reg?auth"'],
    ['a line break', 'reg\nauth', 'Basic realm="reg?auth"'],
  ])('%s in token.issuer', (_what, issuer, expected) => {
    const { res, headers } = fakeResponse();
    sendError(res, 'docker', new UnauthorizedError(), issuer);
    expect(headers.get('www-authenticate')).toBe(expected);
  });

  test('non-Latin-1 text already becomes ? (passes today)', () => {
    const { res, headers } = fakeResponse();
    sendError(res, 'docker', new UnauthorizedError(), 'regauth – prod');
    expect(headers.get('www-authenticate')).toBe('Basic realm="regauth ? prod"');
  });
});
