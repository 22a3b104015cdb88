import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { nonEmpty, section, strict } from '../core/schema.js';
import { Secret } from '../core/secret.js';
import { defineSection, type SectionContext } from '../core/section.js';

/**
 * `store:`, where the state that must be one across replicas lives (the lockout's counts, locks
 * and checks in flight, sign-outs, used login cookies): `memory` (this process only, the default)
 * or `redis` (one Redis or Valkey shared by every replica).
 */
export const storeSchema = strict({
  /** memory: this process only. redis: shared through the Redis at `url`. */
  type: z.enum(['memory', 'redis'], { error: 'must be memory or redis' }).default('memory'),
  /** redis:// or rediss:// (TLS) URL, without a password (that goes in password_file). */
  url: nonEmpty.optional(),
  /** File with the Redis password (surrounding whitespace trimmed). */
  password_file: nonEmpty.optional(),
  /** Redis ACL user name (with password_file). Default: the default user. */
  username: nonEmpty.optional(),
  /** PEM CA certificate(s) that sign the Redis server's certificate (rediss:// only). */
  ca_certificate: nonEmpty.optional(),
  /** Prefix of every key regauth writes, so several services can share one Redis. */
  key_prefix: z
    .string({ error: 'must be a string' })
    .max(64, { error: 'must be at most 64 characters' })
    .default('regauth:'),
  /** The longest one Redis operation may take (connecting included) before it counts as failed. */
  timeout_ms: z
    .number({ error: 'must be a number of milliseconds from 10 to 60000' })
    .int({ error: 'must be a whole number of milliseconds from 10 to 60000' })
    .min(10, { error: 'must be a number of milliseconds from 10 to 60000' })
    .max(60_000, { error: 'must be a number of milliseconds from 10 to 60000' })
    .default(500),
  /** What a login that needs the store gets while the store cannot answer: 503 (fail_closed) or no limits (fail_open). */
  on_store_error: z
    .enum(['fail_closed', 'fail_open'], { error: 'must be fail_closed or fail_open' })
    .default('fail_closed'),
});

export type StoreSchema = z.output<typeof storeSchema>;

/** The compiled `store:` section. */
export type StoreConfig =
  | { readonly type: 'memory'; readonly onStoreError: 'fail_closed' | 'fail_open' }
  | {
      readonly type: 'redis';
      readonly url: string;
      readonly username: string | undefined;
      readonly password: Secret | undefined;
      readonly caPem: string | undefined;
      readonly keyPrefix: string;
      readonly timeoutMs: number;
      readonly onStoreError: 'fail_closed' | 'fail_open';
    };

export function compileStoreConfig(
  raw: StoreSchema,
  ctx: Pick<SectionContext, 'at' | 'readFile'>,
): StoreConfig {
  if (raw.type === 'memory') {
    for (const key of ['url', 'password_file', 'username', 'ca_certificate'] as const) {
      if (raw[key] !== undefined) throw new ConfigError(`store.${key}`, 'only used with type: redis');
    }
    return Object.freeze({ type: 'memory', onStoreError: raw.on_store_error });
  }
  if (raw.url === undefined)
    throw new ConfigError('store.url', 'required with type: redis, e.g. redis://redis:6379/0');
  // A URL parser drops leading and trailing blanks and any tab or line break; ioredis reads the
  // text as it is, and would see another URL (or none).
  if (/[\x00-\x20\x7f]/.test(raw.url)) {
    throw new ConfigError('store.url', 'must not hold spaces or control characters');
  }
  let url: URL;
  try {
    url = new URL(raw.url);
  } catch {
    throw new ConfigError('store.url', 'not a URL; use e.g. redis://redis:6379/0 or rediss://redis:6380/0');
  }
  // In lower case: ioredis turns TLS on only for a URL that starts with "rediss://" so.
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !/^rediss?:/.test(raw.url)) {
    throw new ConfigError('store.url', 'must start with redis:// or rediss:// (TLS), in lower case');
  }
  // ioredis knows a scheme only before "//": it reads "redis:/0" as the host "redis" and a socket.
  if (!/^rediss?:\/\/[^/]/i.test(raw.url) || url.hostname === '') {
    throw new ConfigError('store.url', 'must be redis://HOST[:PORT][/DB] or rediss://…, with a host');
  }
  // Never a secret in the config file (it is logged, shared, committed): passwords go in a file.
  // ioredis also reads them from the query (`?password=`).
  const inQuery = [...url.searchParams.keys()].some((k) => /^(password|username)$/i.test(k));
  if (url.password !== '' || url.username !== '' || inQuery) {
    throw new ConfigError(
      'store.url',
      'must not hold a user or password; use store.username and store.password_file',
    );
  }
  // ioredis reads options from the query and lets them override the store's (timeout_ms,
  // ca_certificate, the key prefix): everything is set by the store: keys instead.
  if (url.search !== '' || url.hash !== '') {
    throw new ConfigError('store.url', 'takes no query or fragment; set the connection with the store: keys');
  }
  if (!/^(\/\d*)?$/.test(url.pathname)) {
    throw new ConfigError('store.url', 'the path is the database number, e.g. redis://redis:6379/0');
  }
  if (raw.username !== undefined && raw.password_file === undefined) {
    throw new ConfigError('store.password_file', 'required when username is set');
  }
  let password: Secret | undefined;
  if (raw.password_file !== undefined) {
    const text = ctx.readFile('store.password_file', ctx.at(raw.password_file)).trim();
    if (text === '') throw new ConfigError('store.password_file', 'the file is empty');
    password = new Secret(text);
  }
  let caPem: string | undefined;
  if (raw.ca_certificate !== undefined) {
    if (url.protocol !== 'rediss:')
      throw new ConfigError('store.ca_certificate', 'only used with a rediss:// url');
    caPem = ctx.readFile('store.ca_certificate', ctx.at(raw.ca_certificate));
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError('store.ca_certificate', 'no PEM certificate in the file');
    }
  }
  return Object.freeze({
    type: 'redis',
    url: raw.url,
    username: raw.username,
    password,
    caPem,
    keyPrefix: raw.key_prefix,
    timeoutMs: raw.timeout_ms,
    onStoreError: raw.on_store_error,
  });
}

/** `store:` (memory when absent). */
export const storeSection = defineSection({
  schema: section(storeSchema),
  compile: (value, ctx) => compileStoreConfig(value, ctx),
});

/**
 * Whether `next` names another store than `started`: any setting read when the connection opens
 * (all but on_store_error), the password compared without showing it. A reload cannot apply that.
 */
export function storeConnectionChanged(started: StoreConfig, next: StoreConfig): boolean {
  if (started.type === 'memory' || next.type === 'memory') return started.type !== next.type;
  const settings = (s: typeof started) =>
    JSON.stringify([s.url, s.username, s.caPem, s.keyPrefix, s.timeoutMs]);
  if (settings(started) !== settings(next)) return true;
  const [a, b] = [started.password, next.password];
  if (a === undefined || b === undefined) return a !== b;
  return !a.equals(b);
}
