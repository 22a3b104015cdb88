import { isUtf8 } from 'node:buffer';
import { BadRequestError } from '../core/errors.js';
import { Secret } from '../core/secret.js';
import { checkAccount } from '../core/account-name.js';
import type { Credentials } from './credentials.js';

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
