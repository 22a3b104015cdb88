import { z } from 'zod';
import { ConfigError, ConfigErrors, formatPath } from '../core/errors.js';
import { nonEmpty, strict } from '../core/schema.js';
import { defineSection } from '../core/section.js';
import { parseHtpasswd } from './htpasswd.js';
import { BCRYPT_HASH, bcryptCostProblem } from './password.js';
import type { StaticUser } from './users.js';

/**
 * A label value YAML read as a number or a boolean (`uid: [1001]`): docker_auth (yaml.v2) reads
 * its text as written, and so does compile, below.
 */
const labelScalar = z.union([z.string(), z.number(), z.boolean()]);
const labels = z.record(
  z.string(),
  z.union([labelScalar, z.array(labelScalar)], { error: 'must be a string or a list of strings' }),
  {
    error: 'must be a mapping of label name to a list of values',
  },
);

const user = strict({
  // The shape for editors (the JSON Schema); the loader checks it in compile, below, where its
  // error says which bcrypt cost is refused and never repeats the value.
  password: nonEmpty.meta({ pattern: BCRYPT_HASH.source }).optional(),
  labels: labels.optional(),
});

/**
 * `users:` accounts written in the config, a bcrypt hash and labels each. A name YAML reads as no
 * value (`~`, `null`) or a password that is not a bcrypt hash is an error naming it;
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
    // A number or a boolean is already its text as written (`0755`, `True`), as docker_auth's
    // yaml.v2 reads any scalar into a name (src/config/yaml.ts); `~` and `null` are no name.
    for (const [name, u] of Object.entries(raw)) {
      const odd = notStrings.get(name);
      if (odd?.type === 'null') {
        errors.push(
          new ConfigError(
            formatPath(['users', name]),
            `user name ${odd.text} is no value to YAML (docker_auth read it as the anonymous account ""): write "" for that account, or quote it ("${odd.text}") for a user of that name`,
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
        const labels = labelTexts(u.labels ?? {}, (path, v) =>
          ctx.textAt(['users', name, 'labels', ...path], v),
        );
        users.set(name, { passwordHash: u.password, labels, ...(bare ? { bare } : {}) });
      }
    }
    if (errors.length > 0) throw new ConfigErrors(errors);
    return users;
  },
});

/**
 * Labels as lists of text: one value is a list of one, and a number or a boolean is its text as
 * written (`text`, by the path under the labels; `0100` stays `0100`).
 */
function labelTexts(
  labels: Readonly<Record<string, z.output<typeof labelScalar> | z.output<typeof labelScalar>[]>>,
  text: (path: (string | number)[], value: z.output<typeof labelScalar>) => string,
): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(labels).map(([label, values]) => [
      label,
      Array.isArray(values) ? values.map((v, i) => text([label, i], v)) : [text([label], values)],
    ]),
  );
}

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
