import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { z } from 'zod';
import { namesSecretFile, secretPath, secretText, unreadableSecretFile } from '../core/secret.js';
import { ConfigError, ConfigErrors, formatPath, RegauthError } from '../core/errors.js';
import { foldAccountName } from '../core/account-name.js';
import { compileIpList, type IpList } from '../authz/ip.js';
import { loadSigningKey, sameKey } from '../token/keys.js';
import { devKeyFiles, ensureDevKeys } from '../token/generate.js';
import type { SigningKey } from '../token/types.js';
import { configSchema, type MetricsConfig, type RawConfig } from './schema.js';
import {
  DOCKER_AUTH_KEYS,
  DOCKER_AUTH_SECTIONS,
  dockerAuthCallback,
  NULL_MEANS_UNSET,
  REQUIRED_HINTS,
  withoutUnset,
} from './docker-auth.js';
import { lineOf, nonStringKeysAt, parseYaml, scalarTextAt, utf8Text, type ParsedYaml } from './yaml.js';
import { SECTIONS, type CompiledSections } from './sections.js';
import type { Section, SectionContext } from '../core/section.js';
import { loadRefresh, type RefreshConfig } from '../token/refresh-config.js';
import { shellQuote } from '../core/shell.js';

/** A listen address: `:5001`, `127.0.0.1:5001`, `[::1]:5001`. */
export interface ListenAddress {
  readonly host: string | undefined;
  readonly port: number;
}

/**
 * The config, validated, with every file it names read and every rule compiled. Frozen.
 * `server` and `token` are src/config/'s own; every other section (sections.ts) is held under
 * its YAML name as its compile step made it (`config.ldap_auth`, `config.lockout`).
 */
export type Config = ConfigBase & CompiledSections;

interface ConfigBase {
  /** Absolute path of the file it came from, if any. */
  readonly file: string | undefined;
  readonly server: {
    readonly addr: ListenAddress;
    readonly pathPrefix: string;
    readonly tls:
      | {
          readonly certPem: string;
          readonly keyPem: string;
          readonly certificatePath: string;
          readonly keyPath: string;
        }
      | undefined;
    readonly trustedProxies: IpList;
    /** `server.max_connections`. */
    readonly maxConnections: number;
    /** `server.headers_timeout` and `server.request_timeout`, in milliseconds. */
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
  };
  readonly token: {
    readonly issuer: string;
    readonly expiration: number;
    readonly services: readonly string[];
    readonly key: SigningKey;
    readonly keyPath: string;
    readonly certificatePath: string;
    /** Which key signs: `token.key`'s, the TLS listener's `server.key` (without one), or the development key. */
    readonly keySource: KeySource;
    /** `token.refresh`; undefined = refresh tokens disabled. */
    readonly refresh: RefreshConfig | undefined;
  };
  /** Every file the config depends on (for reload watching). */
  readonly files: readonly string[];
  /** `metrics:`. */
  readonly metrics: MetricsConfig;
}

export interface LoadOptions {
  /**
   * Key and certificate to use when the config names neither `token.key` nor `server.key`
   * (the development key that `regauth serve` creates under ./data). `create`, when given, writes
   * them; it is called only once the rest of the config loaded without error, so an invalid
   * config leaves no key behind.
   */
  readonly devKey?: KeyFiles & { readonly create?: () => void };
  /**
   * Returns the path of the development refresh secret, creating it, for a config with
   * `token.refresh` but no `secret_file` (`regauth serve` keeps it in ./data).
   */
  readonly devRefreshSecret?: () => string;
  /**
   * What a reload refuses in the config as loaded, judged against the running one
   * (src/service/load.ts): asked once the config is otherwise valid and before any development
   * file is made, so that a refused reload leaves none. `key` is absent for the development key.
   */
  readonly refuse?: (loaded: {
    readonly users: Config['users'];
    readonly key: { readonly keySource: KeySource; readonly keyPath: string } | undefined;
  }) => readonly ConfigError[];
  /**
   * Files read in place of the ones the config names (absolute path → path to read). The tools
   * use it for a signing key that does not exist yet where they run (a container's /keys).
   */
  readonly standIns?: ReadonlyMap<string, string>;
}

/** Reads and loads a config file. Throws ConfigError / ConfigErrors naming YAML paths and lines. */
export function loadConfigFile(file: string, options: LoadOptions = {}): Config {
  const path = resolve(file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ConfigError(
      '',
      `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      {
        cause: err,
      },
    );
  }
  let text: string;
  try {
    text = utf8Text(bytes, path);
  } catch (err) {
    throw err instanceof ConfigError ? new ConfigErrors([err], path) : err;
  }
  return loadConfigText(text, { ...options, file: path });
}

/** Loads config text; relative paths inside it resolve against `file`'s directory (or the working directory). */
export function loadConfigText(text: string, options: LoadOptions & { file?: string } = {}): Config {
  const file = options.file;
  let parsed: ParsedYaml;
  try {
    parsed = parseYaml(text, file);
  } catch (err) {
    throw err instanceof ConfigError ? new ConfigErrors([err], file) : err;
  }
  const raw = validate(parsed, file);
  const run = new LoadRun(parsed, file, options);
  const server = compileServer(raw, run);
  // Checked here as server.addr is, so a port out of range is a load error, not a failed start.
  const metricsAddr = raw.metrics.addr;
  if (metricsAddr !== undefined) run.attempt(() => parseListenAddress(metricsAddr, 'metrics.addr'));
  const devKey = namesNoKey(raw) ? options.devKey : undefined;
  let key = devKey ? undefined : run.attempt(() => compileSigningKey(raw, run, undefined));
  const sections = compileSections(raw, run);
  for (const err of accountsInBoth(sections)) run.fail(err);
  for (const err of accountsFoldingAlike(sections)) run.fail(err);
  if (options.refuse && run.errors.length === 0) {
    for (const err of options.refuse({ users: sections.users, key })) run.fail(err);
  }
  const rawRefresh = raw.token.refresh;
  const createsSecret = rawRefresh?.secret_file === undefined && options.devRefreshSecret !== undefined;
  // A refresh secret read from its file is read before anything is created, as the rest is.
  let refresh =
    rawRefresh && !createsSecret ? run.attempt(() => compileRefresh(rawRefresh, run, options)) : undefined;
  // The development secret and key last, so they are created only for a config that is
  // otherwise valid; the secret first, as one already there may be refused (cut short).
  if (rawRefresh && createsSecret && run.errors.length === 0) {
    refresh = run.attempt(() => compileRefresh(rawRefresh, run, options));
  }
  if (devKey && run.errors.length === 0) {
    key = run.attempt(() => {
      devKey.create?.();
      return compileSigningKey(raw, run, devKey);
    });
  }
  if (run.errors.length > 0 || !server || !key) {
    throw new ConfigErrors(run.errors, file, undefined, [...new Set(run.files)]);
  }
  return Object.freeze({
    file,
    server,
    token: {
      issuer: raw.token.issuer,
      expiration: raw.token.expiration,
      services: raw.token.services,
      key: key.signingKey,
      keyPath: key.keyPath,
      certificatePath: key.certificatePath,
      keySource: key.keySource,
      refresh,
    },
    ...sections,
    metrics: raw.metrics,
    files: [...new Set(run.files)],
  });
}

/**
 * One load in progress: the errors found so far (each with its line), the files read (watched for
 * reloads), and paths resolved against the config's folder. Every compile step reports through it,
 * so one load reports every problem.
 */
class LoadRun {
  readonly errors: ConfigError[] = [];
  readonly files: string[] = [];
  readonly base: string;

  constructor(
    readonly parsed: ParsedYaml,
    file: string | undefined,
    private readonly options: LoadOptions,
  ) {
    this.base = file ? dirname(file) : process.cwd();
  }

  at = (p: string): string => resolve(this.base, p);

  /** Records a config error (or each of several), with its line. */
  fail(err: ConfigError | ConfigErrors): void {
    if (err instanceof ConfigErrors) this.errors.push(...err.errors.map((e) => withLine(e, this.parsed)));
    else this.errors.push(withLine(err, this.parsed));
  }

  /** Runs a compile step; a config error is recorded and gives undefined, anything else is thrown. */
  attempt<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ConfigError || err instanceof ConfigErrors) {
        this.fail(err);
        return undefined;
      }
      throw err;
    }
  }

  /**
   * Reads a file the config names (a stand-in when the tools gave one) and watches it. `written`:
   * the path as the config writes it, which decides whether an error may print it (secretPath).
   */
  readFile = (yamlPath: string, p: string, advice?: string, written = p): string => {
    this.files.push(p);
    let bytes: Buffer;
    try {
      bytes = this.readBytes(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Nor the advice, which names the path's directory.
      const holds = secretPath(yamlPath, written);
      if (holds !== undefined) throw new ConfigError(yamlPath, unreadableSecretFile(err, holds));
      throw new ConfigError(
        yamlPath,
        `cannot read ${p}: ${code ?? String(err)}${code === 'ENOENT' && advice ? `; ${advice}` : ''}`,
      );
    }
    return namesSecretFile(yamlPath) ? secretText(yamlPath, bytes) : bytes.toString('utf8');
  };

  /** Reads a file without watching it or naming a YAML path in its error. */
  readBytes = (p: string): Buffer => readFileSync(this.options.standIns?.get(p) ?? p);
}

/** `server:` the listener, its TLS files, trusted proxies and limits. */
function compileServer(rawConfig: RawConfig, run: LoadRun): Config['server'] | undefined {
  const raw = rawConfig.server;
  const addr = run.attempt(() => parseListenAddress(raw.addr));
  const trustedProxies = run.attempt(() => compileIpList(raw.trusted_proxies, 'server.trusted_proxies'));
  if (raw.headers_timeout > raw.request_timeout) {
    run.fail(
      new ConfigError(
        'server.headers_timeout',
        `must not exceed server.request_timeout (${raw.request_timeout} s): the header is part of the request`,
      ),
    );
  }
  if ((raw.certificate === undefined) !== (raw.key === undefined)) {
    run.fail(new ConfigError('server', 'certificate and key must be given together'));
  }
  const tls =
    raw.certificate && raw.key
      ? run.attempt(() => {
          const certificatePath = run.at(raw.certificate!);
          const keyPath = run.at(raw.key!);
          const tlsFiles = {
            certPem: run.readFile('server.certificate', certificatePath),
            keyPem: run.readFile('server.key', keyPath, undefined, raw.key),
            certificatePath,
            keyPath,
          };
          // Without token.key and token.certificate they are the signing key, checked as such.
          if (rawConfig.token.key !== undefined || rawConfig.token.certificate !== undefined)
            checkTlsFiles(tlsFiles);
          return tlsFiles;
        })
      : undefined;
  if (!addr || !trustedProxies) return undefined;
  return {
    addr,
    pathPrefix: raw.path_prefix,
    tls,
    trustedProxies,
    maxConnections: raw.max_connections,
    headersTimeoutMs: raw.headers_timeout * 1000,
    requestTimeoutMs: raw.request_timeout * 1000,
  };
}

/**
 * Parses the TLS listener's certificate and key as the listener will, and checks that the
 * certificate is the key's: a file that is not PEM, a pair that does not match, or one TLS refuses
 * is a config error here rather than a crash when serve starts listening or a failure at every
 * handshake.
 */
function checkTlsFiles(tls: NonNullable<Config['server']['tls']>): void {
  const errors: ConfigError[] = [];
  let certificate: X509Certificate | undefined;
  let key: KeyObject | undefined;
  try {
    certificate = new X509Certificate(tls.certPem);
  } catch {
    errors.push(new ConfigError('server.certificate', `${tls.certificatePath}: not a PEM certificate`));
  }
  try {
    key = createPrivateKey({ key: tls.keyPem, format: 'pem' });
  } catch {
    errors.push(
      new ConfigError(
        'server.key',
        `${tls.keyPath}: not a PEM private key (unencrypted PKCS#8, SEC1 or PKCS#1)`,
      ),
    );
  }
  if (errors.length > 0) throw new ConfigErrors(errors);
  // As for token.certificate: otherwise every TLS handshake would fail.
  if (!sameKey(certificate!.publicKey, createPublicKey(key!))) {
    throw new ConfigError(
      'server.certificate',
      `${tls.certificatePath} does not match server.key ${tls.keyPath}: the first certificate's public key is not the key's public key`,
    );
  }
  // What only OpenSSL's TLS rules refuse (a key too small for its security level, say), as the
  // listener would when serve starts.
  try {
    createSecureContext({ cert: tls.certPem, key: tls.keyPem });
  } catch (err) {
    throw new ConfigError(
      'server.certificate',
      `${tls.certificatePath} and server.key ${tls.keyPath} cannot serve TLS: ${(err as Error).message}`,
    );
  }
}

/** Which key signs tokens (Config.token.keySource). */
export type KeySource = 'token.key' | 'server.key' | 'development';

/** Whether the config names no signing key nor certificate (the development key stands in). */
function namesNoKey(raw: RawConfig): boolean {
  return (raw.token.key ?? raw.server.key ?? raw.token.certificate ?? raw.server.certificate) === undefined;
}

/**
 * The signing key and certificate: `token.key`/`token.certificate`, else the TLS listener's
 * (docker_auth), else the development key `devKey` when given.
 */
function compileSigningKey(
  raw: RawConfig,
  run: LoadRun,
  devKey: KeyFiles | undefined,
): { signingKey: SigningKey; keyPath: string; certificatePath: string; keySource: KeySource } {
  const keyRef = raw.token.key ?? raw.server.key;
  const certRef = raw.token.certificate ?? raw.server.certificate;
  const keyPathYaml = raw.token.key ? 'token.key' : 'server.key';
  const certPathYaml = raw.token.certificate ? 'token.certificate' : 'server.certificate';
  let keyPath: string;
  let certificatePath: string;
  if (namesNoKey(raw)) {
    if (!devKey) {
      throw new ConfigError(
        'token.key',
        'required (or server.key); `regauth serve` creates a development key in ./data when both are absent',
      );
    }
    ({ keyPath, certificatePath } = devKey);
  } else if (keyRef === undefined || certRef === undefined) {
    throw new ConfigError(
      keyRef === undefined ? 'token.key' : 'token.certificate',
      'required when the other is set',
    );
  } else {
    keyPath = run.at(keyRef);
    certificatePath = run.at(certRef);
  }
  const create = `create it with \`regauth keys init --dir ${shellQuote(dirname(keyPath))}\` (it writes token.key and token.pem there)`;
  const keyPem = run.readFile(keyPathYaml, keyPath, create, keyRef);
  const certPem = run.readFile(certPathYaml, certificatePath, create);
  try {
    const signingKey = loadSigningKey({
      keyPem,
      certPem,
      keyPath,
      certPath: certificatePath,
      x5c: raw.token.x5c,
      kidFormat: raw.token.disable_legacy_key_id ? 'thumbprint' : 'libtrust',
    });
    const keySource: KeySource = namesNoKey(raw) ? 'development' : raw.token.key ? 'token.key' : 'server.key';
    return { signingKey, keyPath, certificatePath, keySource };
  } catch (err) {
    if (err instanceof RegauthError && err.code === 'ERR_KEY') {
      // The key loader names the file it complains about: `token.certificate <path>: …`.
      const aboutCert = err.message.startsWith('token.certificate');
      const message = err.message.replace(/^token\.(key|certificate) /, '');
      throw new ConfigError(aboutCert ? certPathYaml : keyPathYaml, message, { cause: err });
    }
    throw err;
  }
}

/** `token.refresh`: the secret file (or the development secret), watched for reloads. */
function compileRefresh(
  raw: NonNullable<RawConfig['token']['refresh']>,
  run: LoadRun,
  options: LoadOptions,
): RefreshConfig {
  // Watched before it is read: when it cannot be read (or holds too little), writing it is the fix.
  const refresh = loadRefresh(raw, run.at, options.devRefreshSecret, (p) => {
    run.files.push(p);
    return run.readBytes(p);
  });
  // Not the secret the config names: a development secret, or a tool's stand-in for a file
  // missing here.
  const standsIn = raw.secret_file === undefined || options.standIns?.has(refresh.secretFile) === true;
  return standsIn ? { ...refresh, secretStandsIn: true } : refresh;
}

/** Every section of the table (sections.ts), compiled with one context; absent ones stay undefined. */
function compileSections(raw: RawConfig, run: LoadRun): CompiledSections {
  const ctx: SectionContext = {
    base: run.base,
    at: run.at,
    readFile: run.readFile,
    nonStringKeysAt: (path) => nonStringKeysAt(run.parsed, path),
    textAt: (path, value) =>
      typeof value === 'string' ? value : (scalarTextAt(run.parsed, path) ?? String(value)),
    tokenServices: raw.token.services,
  };
  const sections: Record<string, unknown> = {};
  for (const [name, section] of Object.entries(SECTIONS) as [string, Section<z.ZodType, unknown>][]) {
    const value = (raw as Record<string, unknown>)[name];
    sections[name] = value == null ? undefined : run.attempt(() => section.compile(value, ctx));
  }
  return sections as CompiledSections;
}

/**
 * An account in `users:` and in `users_file`: `users:` is asked first, so its entry would replace
 * the file's line unseen (a label-only entry let any password in; a hash left from before a move
 * to the file outlived every change to it).
 */
function accountsInBoth(sections: CompiledSections): ConfigError[] {
  const { users, users_file: file } = sections;
  if (!users || !file) return [];
  return [...users]
    .filter(([name]) => file.users.has(name))
    .map(
      ([name, user]) =>
        new ConfigError(
          formatPath(['users', name]),
          `also in users_file (${file.path}); users: is asked first, so this entry${user.passwordHash === undefined ? ' (no password: any password logs in)' : ''} would replace the file's line; keep the account in one of them`,
        ),
    );
}

/**
 * Static accounts whose names fold alike (`alice`, `Alice`, `ａｌｉｃｅ`): the lockout counts every
 * spelling of a name as one account, as a directory finds one entry for them, so a login to one
 * would clear the failures counted on the other, and its owner could guess the other's password
 * for ever, a few at a time. `users:` and `users_file` together.
 */
function accountsFoldingAlike(sections: CompiledSections): ConfigError[] {
  const { users, users_file: file } = sections;
  const seen = new Map<string, { readonly name: string; readonly where: string }>();
  const errors: ConfigError[] = [];
  const named = [
    ...[...(users?.keys() ?? [])].map((name) => {
      const path = formatPath(['users', name]);
      return { name, path, where: path };
    }),
    ...[...(file?.users.keys() ?? [])].map((name) => ({
      name,
      path: 'users_file',
      where: `${file!.path}: ${name}`,
    })),
  ];
  for (const { name, path, where } of named) {
    const folded = foldAccountName(name);
    const first = seen.get(folded);
    if (first === undefined) {
      seen.set(folded, { name, where });
      continue;
    }
    // The same name in users: and in users_file is refused as such (accountsInBoth).
    if (first.name === name) continue;
    errors.push(
      new ConfigError(
        path,
        `${path === 'users_file' ? `${JSON.stringify(name)} in ${file!.path}` : 'this account'} folds like ${first.where} (case, width): the lockout counts both as one account, so a login to one would clear the failed logins of the other; keep one spelling`,
      ),
    );
  }
  return errors;
}

function validate(parsed: ParsedYaml, file: string | undefined): RawConfig {
  const value = parsed.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigErrors(
      [new ConfigError('', 'the config must be a YAML mapping (server:, token:, users:, acl:)')],
      file,
    );
  }
  const errors: ConfigError[] = [];
  // A shallow copy: refused docker_auth keys are reported by name and left out, so the schema
  // reports everything else in the same run (a migration sees every problem at once).
  const top: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const refused = (path: PropertyKey[], message: string) =>
    errors.push(new ConfigError(formatPath(path), message, { line: lineOf(parsed, path) }));
  const mapping = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  for (const [section, message] of Object.entries(DOCKER_AUTH_SECTIONS)) {
    if (section in top) {
      refused([section], message);
      delete top[section];
    }
  }
  for (const [path, message] of Object.entries(DOCKER_AUTH_KEYS)) {
    const [section, key] = path.split('.') as [string, string];
    const inside = top[section];
    if (mapping(inside) && key in inside) {
      refused([section, key], message);
      const { [key]: _dropped, ...rest } = inside;
      top[section] = rest;
    }
  }
  for (const section of NULL_MEANS_UNSET) {
    const inside = top[section];
    if (mapping(inside)) top[section] = withoutUnset(section, inside);
  }
  const oidc = top['oidc_auth'];
  const callback = mapping(oidc) ? dockerAuthCallback(oidc['redirect_url']) : undefined;
  if (callback) refused(['oidc_auth', 'redirect_url'], callback);

  const result = configSchema.safeParse(top, { reportInput: true });
  if (result.success && errors.length === 0) return result.data;
  // A value of the wrong kind fails its other checks too (`[]` for a non-empty string): its kind
  // is the one thing to say.
  const issues = result.error?.issues ?? [];
  const mistyped = new Set(issues.filter((i) => i.code === 'invalid_type').map((i) => formatPath(i.path)));
  const kept = issues.filter((i) => i.code === 'invalid_type' || !mistyped.has(formatPath(i.path)));
  throw new ConfigErrors([...errors, ...kept.flatMap((issue) => issueErrors(issue, parsed))], file);
}

function issueErrors(issue: z.core.$ZodIssue, parsed: ParsedYaml): ConfigError[] {
  const path = issue.path as PropertyKey[];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => {
      const full = [...path, k];
      return new ConfigError(formatPath(full), issue.message, { line: lineOf(parsed, full) });
    });
  }
  let message = issue.message;
  // zod 4 leaves `issue.input` out unless asked: look the value up to tell missing from mistyped.
  const value = valueAt(parsed.value, path);
  if (issue.code === 'invalid_type' && value === undefined)
    message = REQUIRED_HINTS[formatPath(path)] ?? 'required';
  else if (issue.code === 'invalid_type' && issue.expected === 'boolean') message = booleanHint(value);
  else if (issue.code === 'invalid_type' && message.startsWith('Invalid input:'))
    message = KIND_MESSAGES[issue.expected] ?? message;
  return [new ConfigError(formatPath(path), message, { line: lineOf(parsed, path) })];
}

/** zod's own words for a value of the wrong kind, in the loader's ("must be …"). */
const KIND_MESSAGES: Readonly<Record<string, string>> = {
  object: 'must be a mapping (key: value)',
  record: 'must be a mapping (key: value)',
  map: 'must be a mapping (key: value)',
  array: 'must be a list',
  tuple: 'must be a list',
  string: 'must be a string',
  number: 'must be a number',
  int: 'must be an integer',
};

/**
 * What a boolean setting says of another value. docker_auth's YAML 1.1 read `yes`, `no`, `on`
 * and `off` as booleans; YAML 1.2 reads them as strings.
 */
function booleanHint(value: unknown): string {
  const word = typeof value === 'string' ? value.toLowerCase() : undefined;
  const meant =
    word === 'yes' || word === 'on' || word === 'y'
      ? 'true'
      : word === 'no' || word === 'off' || word === 'n'
        ? 'false'
        : undefined;
  return meant === undefined
    ? 'must be true or false'
    : `must be true or false (${JSON.stringify(value)} is a string in YAML 1.2: write ${meant})`;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (v, k) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined),
    value,
  );
}

/** Adds the line to an error raised with only a path (`acl[3].match.name`). */
function withLine(err: ConfigError, parsed: ParsedYaml): ConfigError {
  if (err.line !== undefined || !err.path) return err;
  const segments: PropertyKey[] = [];
  // As formatPath writes them: `a.b`, `[3]`, and `["a.b"]` for a key that is no plain name.
  for (const [, quoted, index, key] of err.path.matchAll(/\[("(?:[^"\\]|\\.)*")\]|\[(\d+)\]|([^.[\]]+)/g)) {
    segments.push(
      quoted !== undefined ? (JSON.parse(quoted) as string) : index !== undefined ? Number(index) : key!,
    );
  }
  const line = lineOf(parsed, segments);
  if (line === undefined) return err;
  const message = err.message.startsWith(`${err.path}: `)
    ? err.message.slice(err.path.length + 2)
    : err.message;
  return new ConfigError(err.path, message, { line, cause: err.cause });
}

/** A signing key and its certificate on disk. */
export interface KeyFiles {
  readonly keyPath: string;
  readonly certificatePath: string;
}

/** The secret files a config file names, read before the real load (which reports every error). */
export interface NamedFiles {
  /**
   * Whether it names a signing key (`token.key` or `server.key`). When it does not, `regauth serve`
   * uses the development key. An unreadable or invalid file counts as naming one, so the real
   * load reports its errors.
   */
  readonly namesKey: boolean;
  /**
   * The signing key and certificate it names (`token.key`/`token.certificate`, else
   * `server.key`/`server.certificate`) resolved against its folder; undefined unless both are named.
   */
  readonly signingKey: (KeyFiles & { readonly keyYaml: string; readonly keyWritten: string }) | undefined;
  /** `token.refresh.secret_file`, resolved against its folder. */
  readonly refreshSecret: string | undefined;
}

/**
 * Reads which secret files a config names, with one parse: `serve` and the operator verbs decide
 * from it whether the development key stands in, and the verbs stand in for files that exist only
 * where regauth runs (a container's /keys).
 */
export function namedFiles(file: string): NamedFiles {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, 'utf8')).value;
  } catch {
    return { namesKey: true, signingKey: undefined, refreshSecret: undefined };
  }
  const mapping = (v: unknown): Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const top = mapping(value);
  // As the loader reads them: under server: and token:, a key left empty is not there.
  const token = withoutUnset('token', mapping(top['token']));
  const server = withoutUnset('server', mapping(top['server']));
  const base = dirname(resolve(file));
  const key = token['key'] ?? server['key'];
  const certificate = token['certificate'] ?? server['certificate'];
  const secret = mapping(token['refresh'])['secret_file'];
  return {
    namesKey: token['key'] !== undefined || server['key'] !== undefined,
    signingKey:
      typeof key === 'string' && typeof certificate === 'string'
        ? {
            keyYaml: token['key'] === undefined ? 'server.key' : 'token.key',
            keyWritten: key,
            keyPath: resolve(base, key),
            certificatePath: resolve(base, certificate),
          }
        : undefined,
    refreshSecret: typeof secret === 'string' ? resolve(base, secret) : undefined,
  };
}

/**
 * The development signing key for a config that names none: `dir/token.key` and `dir/token.pem`
 * (the files `regauth serve --data-dir` signs with), created when `create` is set and they do not
 * exist. Undefined when the config names a key of its own.
 */
export async function developmentKey(
  named: NamedFiles,
  dir: string,
  create: boolean,
): Promise<(KeyFiles & { readonly created: boolean }) | undefined> {
  if (named.namesKey) return undefined;
  if (!create) return { ...devKeyFiles(dir), created: false };
  const made = await ensureDevKeys(dir);
  return { keyPath: made.keyPath, certificatePath: made.certPath, created: made.created };
}

/** Parses a listener's `[host]:port` (`server.addr`, or the key named by `path`). */
export function parseListenAddress(addr: string, path = 'server.addr'): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new ConfigError(
      path,
      `invalid address ${JSON.stringify(addr)}; expected [host]:port, e.g. ":5001"`,
    );
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}
