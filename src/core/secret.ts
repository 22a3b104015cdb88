import { isUtf8 } from 'node:buffer';
import { timingSafeEqual, createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { ConfigError } from './errors.js';

/**
 * A password, bind password, client secret or token. Printing it in any way
 * (`String()`, `JSON.stringify`, `util.inspect`, template strings) gives `***`;
 * only `reveal()` returns the value, so a leak needs an explicit call.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  get length(): number {
    return this.#value.length;
  }
  /** Constant-time comparison (hashing first hides length differences). */
  equals(other: Secret | string): boolean {
    const a = createHash('sha256').update(this.#value).digest();
    const b = createHash('sha256')
      .update(typeof other === 'string' ? other : other.reveal())
      .digest();
    return timingSafeEqual(a, b);
  }
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
  [inspect.custom](): string {
    return 'Secret(***)';
  }
}

/**
 * Whether the path written for the config key `yamlPath` must not be printed, and what its file
 * holds: always for a secret's file (`secret_file`, `bind_password_file`, …), where a pasted
 * secret looks like any name; for a private key's (`token.key`, `server.key`) when what is
 * written reads as a key (readsAsKey). Undefined when the path may be printed.
 */
export function secretPath(yamlPath: string, written: string): string | undefined {
  if (namesSecretFile(yamlPath)) return 'the secret';
  if ((yamlPath === 'token.key' || yamlPath === 'server.key') && readsAsKey(written)) {
    return 'the private key';
  }
  return undefined;
}

/** Whether a config key names a file that holds a secret (`secret_file`, `bind_password_file`, …). */
export function namesSecretFile(yamlPath: string): boolean {
  return /(?:password|secret)_file$/.test(yamlPath);
}

/**
 * Whether a value given as a key's path reads as the key itself: PEM text, JSON (a JWK), or 40 or
 * more base64 or hex characters that are no path. They are none when broken by blanks (lines of
 * base64 that YAML joined), when they hold no `/` (hex, base64url, one run), or when they start as
 * a key in base64 does (`M…`, a DER SEQUENCE; `LS0t`, PEM text). A path such as
 * `/vault/secrets/regauth-signing-key` is printed.
 */
function readsAsKey(written: string): boolean {
  const v = written.trim();
  if (/-----BEGIN|[\r\n{"]/.test(v)) return true;
  const run = v.replace(/\s+/g, '');
  if (run.length < 40 || !/^[A-Za-z0-9+/=_-]+$/.test(run)) return false;
  return /\s/.test(v) || !v.includes('/') || /^(?:M[A-Za-z0-9]|LS0t)/.test(v);
}

/**
 * Why a secret's file cannot be read, without its path: an operator who pasted the secret itself
 * where the path belongs (docker_auth's `bind_password: …` moved to `bind_password_file: …`) would
 * otherwise find it in the error, and in the log of every failed load.
 */
export function unreadableSecretFile(err: unknown, holds = 'the secret'): string {
  const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
  const itself = holds === 'the private key' ? 'the key itself' : 'the secret itself';
  return `cannot read the file it names (${code}); it must name a file that holds ${holds}, not ${itself}`;
}

/**
 * The text of the secret's file `yamlPath` names. Refused when its bytes are not UTF-8: read as
 * text, each such byte would be U+FFFD, so a binary secret (`head -c 48 /dev/urandom`) would lose
 * most of its entropy.
 */
export function secretText(yamlPath: string, bytes: Buffer): string {
  if (!isUtf8(bytes)) {
    throw new ConfigError(
      yamlPath,
      'holds bytes that are not UTF-8 text, each of which would read as U+FFFD (the secret would lose them); write the secret as text (`openssl rand -base64 48` makes one)',
    );
  }
  return bytes.toString('utf8');
}
