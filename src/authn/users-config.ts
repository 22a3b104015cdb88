import { z } from 'zod';
import { ConfigError, ConfigErrors, formatPath } from '../core/errors.js';
import { labelMap, nonEmpty, strict } from '../core/schema.js';
import { defineSection } from '../core/section.js';
import { parseHtpasswd } from './htpasswd.js';
import { BCRYPT_HASH, bcryptCostProblem } from './password.js';
import type { StaticUser } from './users.js';

const user = strict({
  password: nonEmpty.optional(),
  labels: labelMap.optional(),
});

/**
 * `users:` accounts written in the config, a bcrypt hash and labels each. A name YAML reads as
 * another type (`~`, `1`, `true`) or a password that is not a bcrypt hash is an error naming it;
 * the other accounts are still checked, so one load reports every problem.
 */
export const usersSection = defineSection({
  schema: z
    .record(
      z.string(),
      // null (`bob:`) is kept apart from `{}` to be refused by name in compile, below.
      user.nullable(),
    )
    .optional(),
  compile(raw, ctx): ReadonlyMap<string, StaticUser> {
    const notStrings = ctx.nonStringKeysAt(['users']);
    const errors: ConfigError[] = [];
    const users = new Map<string, StaticUser>();
    for (const [name, u] of Object.entries(raw)) {
      if (notStrings.has(name)) {
        errors.push(
          new ConfigError(
            formatPath(['users', name]),
            `user name ${name} is not a string (YAML reads ~, null, numbers and true/false as other types); quote it ("${name}") if that is the name`,
          ),
        );
      } else if (u === null) {
        // docker_auth (Go's yaml.v2) reads `bob:` as no user at all; taken as `{}` it would be a
        // user that accepts any password.
        const shown = name === '' ? '""' : name;
        errors.push(
          new ConfigError(
            formatPath(['users', name]),
            `has no value: write \`${shown}: {}\` for a user without a password (it accepts any password), give it a password, or remove it (docker_auth ignores such an entry)`,
          ),
        );
      } else if (u.password !== undefined && !BCRYPT_HASH.test(u.password)) {
        errors.push(
          new ConfigError(
            formatPath(['users', name, 'password']),
            withCost(u.password) ??
              'must be a bcrypt hash ($2a$, $2b$ or $2y$); make one with `regauth hash` or `htpasswd -nB`',
          ),
        );
      } else {
        const bare = u.password === undefined && u.labels === undefined;
        users.set(name, { passwordHash: u.password, labels: u.labels ?? {}, ...(bare ? { bare } : {}) });
      }
    }
    if (errors.length > 0) throw new ConfigErrors(errors);
    return users;
  },
});

/** A cost bcrypt refuses, and how to make a usable hash; undefined when that is not the problem. */
function withCost(hash: string): string | undefined {
  const problem = bcryptCostProblem(hash);
  return problem && `${problem}; make a new hash with \`regauth hash\` or \`htpasswd -nB\``;
}

/** `users_file:` an htpasswd file of bcrypt entries, read at load and watched for reloads. */
export const usersFileSection = defineSection({
  schema: nonEmpty.optional(),
  compile(file, ctx): { readonly path: string; readonly users: ReadonlyMap<string, StaticUser> } {
    const path = ctx.at(file);
    return { path, users: parseHtpasswd(ctx.readFile('users_file', path), path) };
  },
});
