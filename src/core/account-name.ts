import { BadRequestError } from './errors.js';

const MAX_ACCOUNT_LENGTH = 256;

/**
 * Characters no account name may hold: whitespace of any kind (Python's `str.split()` and Go's
 * `strings.Fields` split on U+0085 and U+00A0, so an `ext_auth` command could read part of the
 * name as the password), control characters (C0, C1, DEL), format characters (zero-width and
 * bidi marks that make two names look alike), the other characters Unicode says render as
 * nothing (Default_Ignorable_Code_Point: Hangul fillers, variation selectors, the combining
 * grapheme joiner; `admin\u3164` reads as admin), surrogates, and U+FFFD (the user was not
 * valid UTF-8). The accepted set is documented in docs/http-api.md "Account names".
 */
const FORBIDDEN_IN_ACCOUNT = /[\p{White_Space}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Cs}\uFFFD]/u;

/**
 * Account names end up in tokens, logs and commands' stdin: bound them and refuse the characters
 * above. Whether `account` passes; the token endpoint and every login that names an account
 * (oidc_auth's, and the registry page's session) hold to it.
 */
export function isAccountName(account: string): boolean {
  // Characters, as docs/http-api.md counts them: one outside the BMP is two UTF-16 units.
  const tooLong = account.length > MAX_ACCOUNT_LENGTH && [...account].length > MAX_ACCOUNT_LENGTH;
  return !tooLong && !FORBIDDEN_IN_ACCOUNT.test(account);
}

/**
 * An account name quoted for a message (JSON's quoting), with every character the rule refuses
 * written as a `\uXXXX` escape: printed as it is, `admin\u3164` reads as `admin`, another account.
 */
export function quoteAccount(account: string): string {
  return quoteEscaping(account, FORBIDDEN_EVERYWHERE);
}

/**
 * An account as a report names it: `(anonymous)` for `""`, a plain name as it is, and a name that
 * could be misread quoted by {@link quoteAccount}: one the rule refuses, one holding a quote or a
 * backslash (which could pass for another's escape), or one spelled `(anonymous)`.
 */
export function shownAccount(account: string): string {
  if (account === '') return '(anonymous)';
  const plain = isAccountName(account) && !/["\\]/.test(account) && account !== '(anonymous)';
  return plain ? account : quoteAccount(account);
}

/**
 * Free text read from elsewhere (a rule's comment recorded in an audit line) quoted for a report
 * as {@link quoteAccount} quotes a name, the plain space kept: no control, invisible or format
 * character (U+009B, which a terminal reads as an escape sequence; U+202E) is printed as it is.
 */
export function quoteText(text: string): string {
  return quoteEscaping(text, UNPRINTABLE_EVERYWHERE);
}

function quoteEscaping(text: string, escaped: RegExp): string {
  return JSON.stringify(text).replace(escaped, (ch) =>
    Array.from({ length: ch.length }, (_, i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join(
      '',
    ),
  );
}

/** {@link FORBIDDEN_IN_ACCOUNT}, every occurrence. */
const FORBIDDEN_EVERYWHERE = new RegExp(FORBIDDEN_IN_ACCOUNT.source, 'gu');

/** {@link FORBIDDEN_IN_ACCOUNT} but the plain space, every occurrence. */
const UNPRINTABLE_EVERYWHERE = new RegExp(`(?! )${FORBIDDEN_IN_ACCOUNT.source}`, 'gu');

/** Why a name fails {@link isAccountName}, as the offline tools say it. */
export const REFUSED_ACCOUNT_NAME =
  'the token endpoint refuses names with whitespace, control or invisible characters, or over 256 characters (400 invalid account name)';

/** {@link isAccountName}, or 400 `invalid account name`. */
export function checkAccount(account: string): void {
  if (!isAccountName(account)) throw new BadRequestError('invalid account name');
}

/**
 * An account name as directories compare it (LDAP's caseIgnoreMatch, as OpenLDAP implements it):
 * Unicode compatibility forms (NFKC: full-width letters, the Kelvin sign, a no-break space),
 * case, outer and repeated spaces ignored. `ALICE `, `ａｌｉｃｅ` and `alİce` fold to `alice`.
 *
 * Case is folded one character at a time with the simple lower-case mapping, as the directory
 * does: `İ` (U+0130) is `i` (JavaScript's own toLowerCase would give `i` plus a combining dot,
 * which the directory does not match), and `Σ` is `σ` wherever it stands. The dotless `ı`
 * (U+0131) stays itself: the directory does not match it to `i` either.
 */
export function foldAccountName(name: string): string {
  return simpleLowerCase(name.normalize('NFKC')).normalize('NFKC').trim().replace(/\s+/g, ' ');
}

/**
 * Lower case one character at a time with Unicode's simple mapping, as directories and Go's
 * strings.ToLower (docker_auth's `lower_case`) do: `İ` (U+0130) is `i`, `Σ` is `σ` wherever it
 * stands. JavaScript's toLowerCase maps the whole text: `i` plus a combining dot, and `ς` at a
 * word's end.
 */
export function simpleLowerCase(text: string): string {
  let lower = '';
  for (const ch of text) lower += ch === '\u0130' ? 'i' : ch.toLowerCase();
  return lower;
}

/**
 * Whether a backend holds the account under a name that folds otherwise than the one typed (a
 * directory's alias: `alice` for `alice@example.org`): the lockout then counts both names, and
 * the chain leaves such a login to the lockout's full path (src/authn/chain.ts answerNow).
 */
export function foldsOtherwise(typed: string, stored: string): boolean {
  return stored !== typed && foldAccountName(stored) !== foldAccountName(typed);
}

/**
 * A JSON Web Token or JWE (regauth's refresh tokens: five parts, the second empty), base64url or
 * padded base64, or an `oidc_auth` app password (`rga_` and a JWT): what a user pastes at the
 * user-name prompt by mistake. A name of that shape is a credential, never written to the log.
 */
const TOKEN_SHAPED = /^(?:rga_)?eyJ[\w+/-]*={0,2}(?:\.[\w+/-]*={0,2}){2,4}$/;

/** Whether a client-written text (a user name, a service, a client id) is a token pasted in its place. */
export function tokenShaped(text: string): boolean {
  return TOKEN_SHAPED.test(text);
}
