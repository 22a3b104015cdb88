import { ConfigError } from '../core/errors.js';
import { BCRYPT_HASH, bcryptCostProblem } from './password.js';
import type { StaticUser } from './users.js';

/** How many of an htpasswd file's problems its error names. */
const MAX_PROBLEMS_SHOWN = 10;

/**
 * Parses an htpasswd file (`user:hash` per line, `#` comments). Only bcrypt entries are
 * accepted: MD5 (`$apr1$`), SHA1 (`{SHA}`) and crypt are weak, and refused with the line.
 */
export function parseHtpasswd(text: string, file: string): Map<string, StaticUser> {
  const users = new Map<string, StaticUser>();
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `line ${i + 1}`;
    // The file was read as UTF-8: U+FFFD stands for bytes that are not (a Latin-1 name), which no
    // login could match (Basic credentials are read as UTF-8).
    if (line.includes('\uFFFD')) return errors.push(`${where}: not UTF-8; save the file as UTF-8`);
    const colon = line.indexOf(':');
    if (colon <= 0) return errors.push(`${where}: expected user:hash`);
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    const costProblem = bcryptCostProblem(hash);
    if (costProblem) {
      return errors.push(
        `${where}: user ${JSON.stringify(user)}: ${costProblem}; make a new hash (htpasswd -B, regauth hash)`,
      );
    }
    if (!BCRYPT_HASH.test(hash)) {
      return errors.push(
        `${where}: user ${JSON.stringify(user)} has a ${hashKind(hash)} hash; only bcrypt is accepted (htpasswd -B, regauth hash)`,
      );
    }
    if (users.has(user)) return errors.push(`${where}: user ${JSON.stringify(user)} appears twice`);
    users.set(user, { passwordHash: hash, labels: {} });
  });
  if (errors.length > 0) {
    // The first few: a file that is not an htpasswd file at all (a log) would fill a line per line.
    const shown = errors.slice(0, MAX_PROBLEMS_SHOWN).join('; ');
    const more =
      errors.length > MAX_PROBLEMS_SHOWN
        ? `; more lines have problems (the first ${MAX_PROBLEMS_SHOWN} are shown)`
        : '';
    throw new ConfigError('users_file', `${file}: ${shown}${more}`);
  }
  return users;
}

function hashKind(hash: string): string {
  if (hash.startsWith('$apr1$')) return 'MD5 ($apr1$)';
  if (hash.startsWith('{SHA}')) return 'SHA1 ({SHA})';
  if (hash.startsWith('$5$') || hash.startsWith('$6$')) return 'SHA-crypt';
  if (hash.startsWith('$2')) return 'malformed bcrypt';
  return 'crypt or plain-text';
}
