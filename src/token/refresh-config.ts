import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { Secret, secretText, unreadableSecretFile } from '../core/secret.js';
import { MIN_SECRET_LENGTH, type RefreshSettings } from './refresh.js';
import { durationBetween, instant, nonEmpty, revocationMap, strict } from '../core/schema.js';

/**
 * `token.refresh`: refresh ("identity") tokens. Present (even `{}` or empty) = enabled;
 * absent = disabled, and no reply ever carries a refresh_token.
 */
export const refreshSchema = strict({
  // Seconds; 0 = never expire. 90 days: docker reuses one token for months.
  expiration: durationBetween(
    0,
    Infinity,
    (v) => `invalid duration ${JSON.stringify(v)}; use seconds or e.g. "90d" (0 = never expire)`,
  ).default(7_776_000),
  secret_file: nonEmpty.optional(),
  revoke_before: z
    .record(z.string(), instant, { error: 'must be a mapping of account (or "*") to a time' })
    .default({}),
})
  .nullable()
  // `refresh:` with nothing under it reads as null: enabled with the defaults, like `{}`.
  .transform((v) => v ?? { expiration: 7_776_000, revoke_before: {} as Record<string, number> })
  .optional();

export type RawRefresh = NonNullable<z.output<typeof refreshSchema>>;

/** `token.refresh` as loaded: the secret read, the revocation times as unix seconds. */
export interface RefreshConfig extends RefreshSettings {
  /** The secret's file, for reload watching and messages. */
  readonly secretFile: string;
  /**
   * The secret is not the one the config names: a development secret, or the operator tools'
   * stand-in for a file missing where they run (replay then cannot compare two configs' secrets).
   */
  readonly secretStandsIn?: boolean;
}

/**
 * Reads `token.refresh.secret_file` (or the development secret) and builds the settings.
 * `resolvePath` resolves a config-relative path; `devSecret` returns the path of the development
 * secret (creating it) and is absent where none may be created (tests, `validate` without serve).
 */
export function loadRefresh(
  raw: RawRefresh,
  resolvePath: (p: string) => string,
  devSecret: (() => string) | undefined,
  /** Reads the secret file (the operator verbs substitute a stand-in for a missing one). */
  read: (path: string) => Buffer = (path) => readFileSync(path),
): RefreshConfig {
  let secretFile: string;
  if (raw.secret_file !== undefined) secretFile = resolvePath(raw.secret_file);
  else if (devSecret) secretFile = devSecret();
  else {
    throw new ConfigError(
      'token.refresh.secret_file',
      'required; `regauth serve` creates a development secret in ./data when it is absent',
    );
  }
  let bytes: Buffer;
  try {
    bytes = read(secretFile);
  } catch (err) {
    throw new ConfigError('token.refresh.secret_file', unreadableSecretFile(err));
  }
  const secret = secretText('token.refresh.secret_file', bytes).trim();
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(
      'token.refresh.secret_file',
      `the file it names holds ${secret.length} characters; at least ${MIN_SECRET_LENGTH} are needed (e.g. \`openssl rand -base64 48\`)`,
    );
  }
  return {
    secret: new Secret(secret),
    secretFile,
    expiration: raw.expiration,
    revokeBefore: revocationMap(raw.revoke_before, { everyAccount: true }),
  };
}
