import { isUtf8 } from 'node:buffer';
import { BadRequestError } from '../core/errors.js';
import { Secret } from '../core/secret.js';
import type { Credentials } from './credentials.js';

const MAX_ACCOUNT_LENGTH = 256;

/**
 * Parses an `Authorization` header. Absent → null (anonymous). `Basic base64(user:password)`
 * (RFC 7617; the user ends at the first colon) → credentials. Anything else → 400: a client
 * that sends a header it cannot have meant for us gets told, rather than silently anonymous.
 */
export function parseBasicAuth(header: string | undefined): Credentials | null {
  if (header === undefined || header === '') return null;
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'basic')
    throw new BadRequestError('unsupported Authorization scheme; use Basic');
  const encoded = header.slice(space + 1).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 === 1) {
    throw new BadRequestError('malformed Basic credentials');
  }
  const bytes = Buffer.from(encoded, 'base64');
  // Read as UTF-8 with U+FFFD for a bad byte, 0xFF and 0xFE would be one password.
  if (!isUtf8(bytes)) throw new BadRequestError('Basic credentials are not UTF-8');
  const decoded = bytes.toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new BadRequestError('malformed Basic credentials');
  const account = decoded.slice(0, colon);
  checkAccount(account);
  return { account, password: new Secret(decoded.slice(colon + 1)) };
}

/**
 * Characters no account name may hold: whitespace of any kind (Python's `str.split()` and Go's
 * `strings.Fields` split on U+0085 and U+00A0, so an `ext_auth` command could read part of the
 * name as the password), control characters (C0, C1, DEL), format characters (zero-width and
 * bidi marks that make two names look alike), surrogates, and U+FFFD (the user was not valid
 * UTF-8). The accepted set is documented in docs/http-api.md "Account names".
 */
const FORBIDDEN_IN_ACCOUNT = /[\p{White_Space}\p{Cc}\p{Cf}\p{Cs}\uFFFD]/u;

/** Account names end up in tokens, logs and commands' stdin: bound them and refuse the characters above. */
export function checkAccount(account: string): void {
  // Characters, as docs/http-api.md counts them: one outside the BMP is two UTF-16 units.
  const tooLong = account.length > MAX_ACCOUNT_LENGTH && [...account].length > MAX_ACCOUNT_LENGTH;
  if (tooLong || FORBIDDEN_IN_ACCOUNT.test(account)) {
    throw new BadRequestError('invalid account name');
  }
}
