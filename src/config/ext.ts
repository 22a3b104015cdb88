import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { durationBetween, nonEmpty, strict } from './shared.js';

/**
 * `ext_auth` and `ext_authz`: docker_auth's `{command, args}`, plus a timeout and a bound on
 * concurrent runs. Both sections have the same shape.
 */
export const extCommandSchema = strict({
  command: nonEmpty,
  args: z.array(z.string({ error: 'args must be strings' }), { error: 'must be a list' }).default([]),
  /** Seconds, or a string with units ("10s", "1m"); the command is killed after it. */
  timeout: durationBetween(
    1,
    Infinity,
    () => 'must be a duration of at least 1 second, e.g. 5 or "10s"',
  ).default(5),
  max_concurrency: z
    .number({ error: 'must be a positive integer' })
    .int({ error: 'must be a positive integer' })
    .min(1, { error: 'must be a positive integer' })
    .default(8),
});

export type ExtCommandSchema = z.output<typeof extCommandSchema>;

/** An `ext_auth` / `ext_authz` section, loaded: the command resolved to an executable file. */
export interface ExtCommandConfig {
  /** Absolute path of the executable. */
  readonly command: string;
  readonly args: readonly string[];
  readonly timeoutMs: number;
  readonly maxConcurrency: number;
}

/**
 * Resolves and checks the command at load, as docker_auth's `exec.LookPath` does: a name without
 * `/` is looked up in PATH, a relative path resolves against the config file's directory.
 * Throws ConfigError naming `<section>.command` when it is missing or not executable.
 */
export function loadExtCommand(
  section: 'ext_auth' | 'ext_authz',
  raw: ExtCommandSchema,
  baseDir: string,
  pathEnv = process.env.PATH ?? '',
): ExtCommandConfig {
  const candidates = raw.command.includes('/')
    ? [isAbsolute(raw.command) ? raw.command : resolve(baseDir, raw.command)]
    : pathEnv
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, raw.command));
  const found = candidates.find(isExecutableFile);
  if (!found) {
    const where = raw.command.includes('/') ? candidates[0]! : `a file in PATH`;
    throw new ConfigError(
      `${section}.command`,
      `${JSON.stringify(raw.command)}: not found or not executable (looked for ${where})`,
    );
  }
  return Object.freeze({
    command: found,
    args: Object.freeze([...raw.args]),
    timeoutMs: raw.timeout * 1000,
    maxConcurrency: raw.max_concurrency,
  });
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
