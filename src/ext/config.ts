import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { durationBetween, nonEmpty, strict } from '../core/schema.js';
import { defineSection, type SectionContext } from '../core/section.js';

/**
 * `ext_auth` and `ext_authz`: docker_auth's `{command, args}`, plus a timeout and a bound on
 * concurrent runs. Both sections have the same shape.
 */
const positiveInteger = z
  .number({ error: 'must be a positive integer' })
  .int({ error: 'must be a positive integer' })
  .min(1, { error: 'must be a positive integer' });

const commandShape = {
  command: nonEmpty,
  args: z
    .array(
      z.union(
        [
          // The system passes each argument as a C string: one holding NUL cannot be passed at all.
          z.string().refine((arg) => !arg.includes('\0'), {
            error: 'must not hold a NUL character (\\0): the command could never be run with it',
          }),
          // docker_auth (Go's yaml.v2) takes any scalar's text for a string: `args: [--port, 8080]`
          // runs the command with "8080". Compile takes the text as written (`0x1F`, not `31`).
          z.number(),
          z.boolean(),
        ],
        {
          error:
            'args must be strings, numbers or true/false (taken as written); quote ~, null, .inf or .nan',
        },
      ),
      { error: 'must be a list' },
    )
    .default([]),
  /**
   * Seconds, or a string with units ("10s", "1m"); the command is killed after it. At most a
   * minute, as the other backends' timeouts: a caller waits that long, and a Node timer cannot
   * run past about 24.8 days (longer ones fire at once: every run would time out).
   */
  timeout: durationBetween(
    1,
    60,
    () => 'must be a duration between 1 and 60 seconds, e.g. 5 or "10s"',
  ).default(5),
  max_concurrency: positiveInteger.default(8),
  /** Runs in flight (running or waiting) for one client address; default a quarter of max_concurrency. */
  max_per_client: positiveInteger.optional(),
};

export const extCommandSchema = strict(commandShape);

/** `ext_authz`: the same, plus how many scopes of one request it may be asked about. */
export const extAuthzSchema = strict({
  ...commandShape,
  max_calls_per_request: positiveInteger.default(8),
});

/** A section as loadExtCommand takes it: every argument a string (see argsAsWritten). */
export type ExtCommandSchema = Omit<z.output<typeof extCommandSchema>, 'args'> & {
  readonly args: readonly string[];
  max_calls_per_request?: number;
};

/** The section with each argument YAML read as a number or boolean given as its text as written. */
function argsAsWritten<T extends { readonly args: readonly (string | number | boolean)[] }>(
  section: 'ext_auth' | 'ext_authz',
  raw: T,
  ctx: SectionContext,
): Omit<T, 'args'> & { readonly args: readonly string[] } {
  const args = raw.args.map((arg, i) => ctx.textAt([section, 'args', i], arg));
  return { ...raw, args };
}

/** An `ext_auth` / `ext_authz` section, loaded: the command resolved to an executable file. */
export interface ExtCommandConfig {
  /** Absolute path of the executable. */
  readonly command: string;
  readonly args: readonly string[];
  readonly timeoutMs: number;
  readonly maxConcurrency: number;
  /** Runs in flight for one client address; past it a request is answered 429 at once. */
  readonly maxPerClient: number;
  /** `ext_authz` only: scopes of one request it may be asked about (more: 400). */
  readonly maxCallsPerRequest?: number;
}

/**
 * Resolves and checks the command at load, as docker_auth's `exec.LookPath` does: a name without
 * `/` is looked up in PATH (refused when found first in a relative directory), a relative path
 * resolves against the config file's directory.
 * Throws ConfigError naming `<section>.command` when it is missing or not executable.
 */
export function loadExtCommand(
  section: 'ext_auth' | 'ext_authz',
  raw: ExtCommandSchema,
  baseDir: string,
  pathEnv = process.env.PATH ?? '',
): ExtCommandConfig {
  // A name without `/`: PATH's directories in order, the first that holds it, as Go's LookPath;
  // like it (Go 1.19 on), a find in a relative directory ("" is ".") is refused: it would
  // resolve against regauth's working directory at each run.
  if (!raw.command.includes('/')) {
    // An empty PATH is no directory (Go's SplitList), an empty entry in one is ".".
    for (const dir of pathEnv === '' ? [] : pathEnv.split(delimiter)) {
      const candidate = join(dir === '' ? '.' : dir, raw.command);
      if (!isExecutableFile(candidate)) continue;
      if (!isAbsolute(candidate)) {
        throw new ConfigError(
          `${section}.command`,
          `${JSON.stringify(raw.command)} is found first in PATH's relative directory ${JSON.stringify(dir === '' ? '.' : dir)}, which would resolve against the working directory at each run (docker_auth refuses it too); give its absolute path`,
        );
      }
      return compileCommand(section, raw, candidate);
    }
    throw new ConfigError(
      `${section}.command`,
      `${JSON.stringify(raw.command)}: not found or not executable (looked for a file in PATH)`,
    );
  }
  const path = isAbsolute(raw.command) ? raw.command : resolve(baseDir, raw.command);
  if (!isExecutableFile(path)) {
    throw new ConfigError(
      `${section}.command`,
      `${JSON.stringify(raw.command)}: not found or not executable (looked for ${path})`,
    );
  }
  return compileCommand(section, raw, path);
}

/** The section, loaded, with the command found at `command`. */
function compileCommand(
  section: 'ext_auth' | 'ext_authz',
  raw: ExtCommandSchema,
  command: string,
): ExtCommandConfig {
  const maxPerClient = raw.max_per_client ?? Math.max(1, Math.floor(raw.max_concurrency / 4));
  if (maxPerClient > raw.max_concurrency) {
    throw new ConfigError(
      `${section}.max_per_client`,
      `must not exceed max_concurrency (${raw.max_concurrency})`,
    );
  }
  return Object.freeze({
    command,
    args: Object.freeze([...raw.args]),
    timeoutMs: raw.timeout * 1000,
    maxConcurrency: raw.max_concurrency,
    maxPerClient,
    ...(raw.max_calls_per_request !== undefined ? { maxCallsPerRequest: raw.max_calls_per_request } : {}),
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

/** `ext_auth:` an external program that authenticates. */
export const extAuthSection = defineSection({
  schema: extCommandSchema.optional(),
  compile: (raw, ctx) => loadExtCommand('ext_auth', argsAsWritten('ext_auth', raw, ctx), ctx.base),
});

/** `ext_authz:` an external program that authorizes after the ACL. */
export const extAuthzSection = defineSection({
  schema: extAuthzSchema.optional(),
  compile: (raw, ctx) => loadExtCommand('ext_authz', argsAsWritten('ext_authz', raw, ctx), ctx.base),
});

/**
 * A warning when this process runs ext commands as PID 1 (a container's entry point with no
 * init): what a killed command leaves behind (a script's `sleep` at its timeout, an `&` job) is
 * handed to PID 1, and node reaps only the processes it started, so each stays a zombie until
 * the container's process limit is reached, and then every run fails.
 */
export function pidOneWarnings(
  config: { readonly ext_auth?: unknown; readonly ext_authz?: unknown },
  pid: number,
): { readonly path: string; readonly message: string }[] {
  const section = config.ext_auth ? 'ext_auth' : config.ext_authz ? 'ext_authz' : undefined;
  if (pid !== 1 || section === undefined) return [];
  return [
    {
      path: section,
      message:
        'regauth runs as PID 1 with no init: what a killed command leaves behind stays a zombie, which PID 1 must reap and node does not; run the container with an init (docker run --init, compose init: true, Kubernetes shareProcessNamespace: true)',
    },
  ];
}
