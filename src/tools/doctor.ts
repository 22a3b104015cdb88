import { X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import type { Config } from '../config/load.js';
import { parseYaml, scalarTextAt, yamlOneOneBoolean } from '../config/yaml.js';
import { ConfigError, ConfigErrors } from '../core/errors.js';
import { readAtMost } from '../core/fetch.js';
import {
  certificatePems,
  goUnreadableKey,
  holdsPrivateKey,
  readCertificate,
  sameKey,
  signingAlg,
} from '../token/keys.js';
import { libtrustKeyId, registryV3Thumbprint } from '../token/kid.js';
import { shellQuote } from '../core/shell.js';
import { KEY_ALGORITHMS } from './keys.js';
import { bundleTrusts, certificatesOnly, signingKeyTrustFiles } from '../token/registry-block.js';
import type { SigningKey } from '../token/types.js';

/** One check of `regauth doctor`: passed, or a finding with how to fix it. */
export interface DoctorCheck {
  /**
   * Short name: `auth`, `issuer`, `service`, `rootcertbundle`, `rotation`, `realm`, `certificate`,
   * `jwks`, `signingalgorithms`.
   */
  readonly name: string;
  readonly ok: boolean;
  readonly message: string;
  /** How to fix it (findings only). */
  readonly fix?: string;
}

/** Certificates closer to expiry than this are a finding: time to rotate. */
export const MIN_CERT_DAYS = 30;
const DAY_MS = 86_400_000;

/** The `auth.token` section of the registry's config, as written there (any value may be missing or wrong). */
export interface RegistryToken {
  readonly realm?: unknown;
  readonly service?: unknown;
  readonly issuer?: unknown;
  readonly rootcertbundle?: unknown;
  readonly jwks?: unknown;
  /**
   * 2.8 and v3: the challenge's realm is `https://<the registry's host><autoredirectpath>`. As the
   * registry's YAML 1.1 parser reads it: a plain `yes`, `on` or `Y` is true, a quoted one a string.
   */
  readonly autoredirect?: unknown;
  /** v3 only: the path autoredirect sends clients to (default `/auth/token`). */
  readonly autoredirectpath?: unknown;
  /** v3 only: the algorithms it accepts a token signed with (default: all it knows). */
  readonly signingalgorithms?: unknown;
}

/** The registry's config as diagnose() reads it: its `auth.token` section and its directory. */
export interface RegistryConfig {
  readonly token: RegistryToken;
  readonly dir: string;
  /** The other access controllers under `auth:` beside `token` (the registry takes exactly one). */
  readonly otherAuth?: readonly string[];
}

/**
 * Reads the registry's config.yml and returns its `auth.token` section. Throws ConfigError
 * (exit code 2) when the file cannot be read or parsed, or has no token auth at all.
 */
export function readRegistryConfig(file: string): RegistryConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      '',
      `cannot read registry config ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let value: { auth?: { token?: unknown } } | null;
  let redirectText: string | undefined;
  try {
    // The registry's own file: its errors name it and their line, and say nothing of docker_auth.
    const parsed = parseYaml(text, file, null);
    value = parsed.value as typeof value;
    redirectText = scalarTextAt(parsed, ['auth', 'token', 'autoredirect']);
  } catch (err) {
    throw err instanceof ConfigError ? new ConfigErrors([err], file, 'registry config') : err;
  }
  const token = value?.auth?.token;
  if (token === null || typeof token !== 'object') {
    throw new ConfigError(
      'auth.token',
      `${file}: the registry does not use token authentication (no auth.token section)`,
    );
  }
  const otherAuth = Object.keys(value?.auth ?? {}).filter((k) => k !== 'token');
  const read = token as RegistryToken;
  return {
    token: { ...read, autoredirect: yamlOneOneBoolean(read.autoredirect, redirectText) ?? read.autoredirect },
    dir: dirname(resolve(file)),
    otherAuth,
  };
}

/**
 * Does the registry trust regauth's tokens? Compares regauth's loaded config with the
 * registry's `auth.token` (docs/cli.md "`regauth doctor`"), one check after the other: issuer,
 * service, rootcertbundle (and the rotation stage, when the bundle can be read), realm,
 * certificate, jwks (when the registry names one). Registry-relative paths are resolved against
 * the registry config's directory (the registry itself resolves them against its working
 * directory).
 */
export function diagnose(config: Config, registry: RegistryConfig, now = new Date()): DoctorCheck[] {
  const jwks = jwksCheck(config, registry);
  const algorithms = algorithmsCheck(config, registry.token);
  return [
    ...authCheck(registry),
    issuerCheck(config, registry.token),
    serviceCheck(config, registry.token),
    ...bundleChecks(config, registry),
    realmCheck(config, registry.token),
    certificateCheck(config, now),
    ...(jwks ? [jwks] : []),
    ...(algorithms ? [algorithms] : []),
  ];
}

/** auth: the registry takes exactly one access controller, and refuses to start with two. */
function authCheck(registry: RegistryConfig): DoctorCheck[] {
  const others = registry.otherAuth ?? [];
  if (others.length === 0) return [];
  return [
    fail(
      'auth',
      `auth: holds ${others.map((k) => JSON.stringify(k)).join(', ')} beside token; the registry takes exactly one and refuses to start ("must provide exactly one type")`,
      `remove ${others.join(', ')} from auth: in the registry config`,
    ),
  ];
}

/** The algorithms registry v3 knows (its default list when signingalgorithms is empty). */
const V3_ALGORITHMS = [
  'EdDSA',
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
];

/**
 * The algorithms a registry v3 accepts, when its signingalgorithms is a list it starts with and
 * that names some (an empty list is its default, every algorithm); undefined otherwise (any
 * algorithm: registry 2.8, no list, or one algorithmsCheck reports).
 */
function acceptedAlgorithms(t: RegistryToken): readonly string[] | undefined {
  const value: unknown = t.signingalgorithms;
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const listed = value as unknown[];
  return listed.every((a) => typeof a === 'string' && V3_ALGORITHMS.includes(a))
    ? (listed as string[])
    : undefined;
}

/** signingalgorithms (registry v3): a token signed with an algorithm outside it is refused. */
function algorithmsCheck(config: Config, t: RegistryToken): DoctorCheck | undefined {
  if (t.signingalgorithms === undefined) return undefined;
  const alg = config.token.key.alg;
  const value: unknown = t.signingalgorithms;
  const unknown = Array.isArray(value)
    ? (value as unknown[]).find((a) => typeof a !== 'string' || !V3_ALGORITHMS.includes(a))
    : value;
  if (!Array.isArray(value) || unknown !== undefined) {
    return fail(
      'signingalgorithms',
      Array.isArray(value)
        ? `auth.token.signingalgorithms holds ${JSON.stringify(unknown)}, which registry v3 does not know (names are case-sensitive): it refuses to start`
        : 'auth.token.signingalgorithms is not a list: registry v3 refuses to start',
      `list algorithms among ${V3_ALGORITHMS.join(', ')}, with ${alg}, or remove the key`,
    );
  }
  const listed = value as string[];
  // An empty list is v3's default: every algorithm it knows.
  if (listed.length === 0 || listed.includes(alg)) {
    return pass('signingalgorithms', `the registry accepts ${alg}`);
  }
  return fail(
    'signingalgorithms',
    `auth.token.signingalgorithms (${listed.join(', ')}) does not hold ${alg}, which regauth signs with: a registry v3 refuses every token`,
    `add ${alg} to auth.token.signingalgorithms, or remove the key to accept every algorithm`,
  );
}

const pass = (name: string, message: string): DoctorCheck => ({ name, ok: true, message });
const fail = (name: string, message: string, fix: string): DoctorCheck => ({ name, ok: false, message, fix });
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** A path from the registry's config, relative ones against that config's directory. */
const registryPath = (registry: RegistryConfig, path: string) =>
  isAbsolute(path) ? path : resolve(registry.dir, path);

/** issuer: the registry rejects tokens whose iss differs. */
function issuerCheck(config: Config, t: RegistryToken): DoctorCheck {
  const issuer = str(t.issuer);
  if (issuer === config.token.issuer) return pass('issuer', `both use issuer ${JSON.stringify(issuer)}`);
  return fail(
    'issuer',
    `the registry expects issuer ${JSON.stringify(issuer ?? null)}, regauth signs ${JSON.stringify(config.token.issuer)}`,
    `set auth.token.issuer in the registry config, or token.issuer in regauth's, so that they are equal`,
  );
}

/** service: the registry sends it as `service`; it becomes aud, which the registry checks. */
function serviceCheck(config: Config, t: RegistryToken): DoctorCheck {
  const service = str(t.service);
  const services = config.token.services;
  if (service === undefined || service === '')
    return fail(
      'service',
      'auth.token.service is not set in the registry config',
      'set auth.token.service (e.g. registry.example.com)',
    );
  if (services.length > 0 && !services.includes(service))
    return fail(
      'service',
      `the registry's service ${JSON.stringify(service)} is not in token.services (${services.join(', ')}); regauth answers 400`,
      `add ${JSON.stringify(service)} to token.services`,
    );
  return pass('service', `service ${JSON.stringify(service)} is allowed`);
}

/**
 * rootcertbundle: with x5c the registry verifies the chain against it; by kid it needs the leaf's
 * key. When the bundle can be read, the rotation stage follows.
 */
function bundleChecks(config: Config, registry: RegistryConfig): DoctorCheck[] {
  const bundlePath = str(registry.token.rootcertbundle);
  if (bundlePath === undefined)
    return [
      fail('rootcertbundle', 'auth.token.rootcertbundle is not set', `set it to ${trustedFile(config)}`),
    ];
  const path = registryPath(registry, bundlePath);
  let text: string;
  let bundle: X509Certificate[];
  try {
    text = readFileSync(path, 'utf8');
    bundle = certificatePems(text).map(readCertificate);
  } catch (err) {
    return [
      fail(
        'rootcertbundle',
        `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'not a PEM certificate bundle'}`,
        `copy ${trustedFile(config)} there (or point auth.token.rootcertbundle at it)`,
      ),
    ];
  }
  if (holdsPrivateKey(text)) {
    // regauth's own key file (or a file of keys alone): keeping its certificates alone would
    // leave regauth without its signing key, or an empty file; the registry is pointed at the
    // bundle instead.
    const signingKey = realPathOr(path) === realPathOr(config.token.keyPath);
    return [
      fail(
        'rootcertbundle',
        `${path} holds a private key, which the registry (and whoever can read that file) can read${signingKey ? ": it is regauth's signing key (token.key)" : ''}`,
        signingKey || bundle.length === 0
          ? `point auth.token.rootcertbundle at ${trustedFile(config)} and leave ${path} as it is (keeping its certificates alone would empty it); if it is the signing key, rotate it`
          : `keep the certificates alone (\`${certificatesOnly(path, `${path}.new`)}\`, then move ${shellQuote(`${path}.new`)} over it) and, if it was the signing key, rotate it`,
      ),
    ];
  }
  // Registry 2.8 (registry:2) makes a libtrust key of every certificate at start-up, and
  // refuses to start on one that is neither RSA nor EC on P-256, P-384 or P-521.
  const unloadable = bundle.find((c) => !libtrustLoads(c.publicKey));
  if (unloadable) {
    return [
      fail(
        'rootcertbundle',
        `${path} holds a certificate whose ${unloadable.publicKey.asymmetricKeyType} key registry 2.8 cannot load (${unloadable.subject.replace(/\n/g, ', ')}): it refuses to start`,
        `keep only RSA and EC (P-256, P-384, P-521) certificates in ${path}`,
      ),
    ];
  }
  for (const certificate of bundle) {
    const problem = goUnreadableKey(certificate);
    if (problem) {
      return [
        fail(
          'rootcertbundle',
          `${path} holds a certificate with ${problem} (${certificate.subject.replace(/\n/g, ', ')}), which the registry (Go's crypto/x509) cannot parse: it refuses to start`,
          `keep only certificates of named-curve keys written uncompressed in ${path}`,
        ),
      ];
    }
  }
  return [
    bundleTrustCheck(config, registry.token, path, bundle),
    // The jwks matters to a registry v3 for tokens without x5c only.
    rotationStage(
      config.token.key,
      config.token.certificatePath,
      { path, certificates: bundle },
      config.token.key.x5c.length === 0 ? readableJwks(registry) : undefined,
      acceptedAlgorithms(registry.token),
    ),
  ];
}

/** Whether libtrust (registry 2.8) loads this key: RSA, or EC on P-256, P-384 or P-521. */
function libtrustLoads(key: KeyObject): boolean {
  if (key.asymmetricKeyType === 'rsa') return true;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return key.asymmetricKeyType === 'ec' && ['prime256v1', 'secp384r1', 'secp521r1'].includes(curve ?? '');
}

/**
 * The file to give the registry (as the start-up line names it), with the command that writes it
 * when the certificate file holds the private key too.
 */
function trustedFile(config: Config): string {
  const trust = signingKeyTrustFiles(config.token);
  return trust.makeBundle ? `${trust.bundle} (write it first: \`${trust.makeBundle}\`)` : trust.bundle;
}

/**
 * The registry's `jwks` file and the kids it holds, or why it cannot be read (`error`: the system's
 * code, or `not a JWKS`); undefined when none is set.
 */
function registryJwks(
  registry: RegistryConfig,
): { path: string; kids: string[]; error?: undefined } | { path: string; error: string } | undefined {
  const jwksPath = str(registry.token.jwks);
  if (jwksPath === undefined) return undefined;
  const path = registryPath(registry, jwksPath);
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { keys?: { kid?: unknown }[] };
    return { path, kids: (parsed.keys ?? []).flatMap((k) => (typeof k.kid === 'string' ? [k.kid] : [])) };
  } catch (err) {
    return { path, error: (err as NodeJS.ErrnoException).code ?? 'not a JWKS' };
  }
}

/** The registry's `jwks` when it is set and can be read. */
function readableJwks(registry: RegistryConfig): { path: string; kids: string[] } | undefined {
  const jwks = registryJwks(registry);
  return jwks?.error === undefined ? jwks : undefined;
}

/** Does the bundle hold regauth's certificate (or, with x5c, one of its chain), under a kid the registry finds? */
function bundleTrustCheck(
  config: Config,
  t: RegistryToken,
  path: string,
  bundle: X509Certificate[],
): DoctorCheck {
  const usesX5c = config.token.key.x5c.length > 0;
  // What serve's start-up line and the block name by (registryTrustFiles): the same test.
  const trusted = bundleTrusts(bundle, config.token.key.certificates, usesX5c);
  const holdsLeaf = trusted === 'leaf';
  const thumbprintKid = config.token.key.kid !== config.token.key.libtrustKid;
  if (trusted === false)
    return fail(
      'rootcertbundle',
      `${path} holds neither the signing certificate${usesX5c ? ' nor the root of its chain' : ''} (${bundle.length} certificate${bundle.length === 1 ? '' : 's'}); the registry rejects every token`,
      appendAdvice(config.token.certificatePath, path),
    );
  if (!usesX5c && thumbprintKid && str(t.jwks) === undefined)
    // Registry 2.8 finds a kid-only token's key by the libtrust kid of each bundle key; v3
    // also by the thumbprint. Without jwks in its config, nothing says the registry is v3.
    return fail(
      'rootcertbundle',
      `${path} holds the signing certificate, but regauth names its key by kid alone (token.x5c: false) in registry v3's thumbprint format (token.disable_legacy_key_id: true): registry 2.8 looks keys up by their libtrust kid and refuses every token ("token signed by untrusted key with ID"); registry v3 accepts them`,
      'set token.x5c: true (every registry version verifies the chain against the bundle), or token.disable_legacy_key_id: false for registry 2.8',
    );
  return pass(
    'rootcertbundle',
    `${path} holds ${holdsLeaf ? 'the signing certificate' : 'a certificate of its chain, or its issuer'}${
      usesX5c
        ? ' (tokens carry the chain in x5c: registry 2.8 and v3 verify it)'
        : thumbprintKid
          ? ''
          : ' (tokens name the key by its libtrust kid, which registry 2.8 finds in the bundle; registry v3 needs token.x5c: true or auth.token.jwks)'
    }`,
  );
}

/**
 * How to add the signing certificate to the registry's bundle: the certificate file itself, or,
 * when it holds the private key too (a combined PEM), its certificates alone: the key must never
 * reach a file the registry reads.
 */
function appendAdvice(certificatePath: string, bundle: string): string {
  let combined = false;
  try {
    combined = holdsPrivateKey(readFileSync(certificatePath, 'utf8'));
  } catch {
    combined = false;
  }
  return combined
    ? `append the certificates of ${certificatePath}, not its private key, to ${bundle} (\`${certificatesOnly(certificatePath, bundle, true)}\`) and restart the registry`
    : `append ${certificatePath} to ${bundle} and restart the registry`;
}

/** realm: clients must reach the token endpoint (the path only; `--probe` asks it). */
function realmCheck(config: Config, t: RegistryToken): DoctorCheck {
  const realm = str(t.realm);
  const prefix = config.server.pathPrefix;
  const wanted = [`${prefix}/auth`, `${prefix}/auth/token`];
  const redirect = typeof t.autoredirect === 'boolean' ? t.autoredirect : undefined;
  if (t.autoredirect !== undefined && redirect === undefined) {
    return fail(
      'realm',
      `auth.token.autoredirect ${JSON.stringify(t.autoredirect)} is not true or false: the registry refuses to start`,
      'write autoredirect: true or false',
    );
  }
  // With autoredirect the registry ignores realm (it must still be a string): its challenge
  // names its own host and this path (v3's autoredirectpath; registry 2.8 always /auth/token).
  if (redirect === true) {
    if (realm === undefined) {
      return fail(
        'realm',
        'auth.token.realm is not set: the registry refuses to start, autoredirect or not',
        'set auth.token.realm',
      );
    }
    if (t.autoredirectpath !== undefined && typeof t.autoredirectpath !== 'string') {
      return fail(
        'realm',
        `auth.token.autoredirectpath ${JSON.stringify(t.autoredirectpath)} is not a path: registry v3 refuses to start`,
        'remove it (/auth/token), or write the path',
      );
    }
    const written = str(t.autoredirectpath) || '/auth/token';
    const path = written.startsWith('/') ? written : `/${written}`;
    if (wanted.includes(path.length > 1 ? path.replace(/\/$/, '') : path)) {
      return pass(
        'realm',
        `autoredirect: clients are sent to ${path} on the registry's own host, regauth's token endpoint there (route it to regauth; registry 2.8 always uses /auth/token)`,
      );
    }
    return fail(
      'realm',
      `autoredirect: the registry sends clients to ${path} on its own host, not regauth's token endpoint (${wanted.join(' or ')})`,
      prefix === ''
        ? `set auth.token.autoredirect to false and auth.token.realm to the URL clients use to reach regauth`
        : `set auth.token.autoredirect to false and auth.token.realm to the URL clients use to reach regauth (ending in ${wanted[0]}), or serve regauth without server.path_prefix`,
    );
  }
  let realmPath: string | undefined;
  try {
    realmPath = realm === undefined ? undefined : new URL(realm).pathname;
  } catch {
    realmPath = undefined;
  }
  // `/auth/token/` reaches the endpoint too (routes ignore one trailing slash).
  if (
    realmPath !== undefined &&
    wanted.includes(realmPath.length > 1 ? realmPath.replace(/\/$/, '') : realmPath)
  )
    return pass(
      'realm',
      `the path of ${realm} is regauth's token endpoint (not probed; \`doctor --probe\` asks it)`,
    );
  return fail(
    'realm',
    realm === undefined
      ? 'auth.token.realm is not set'
      : realmPath === undefined
        ? `auth.token.realm ${JSON.stringify(realm)} is not an absolute URL`
        : `the realm path ${realmPath} is not regauth's token endpoint (${wanted.join(' or ')})`,
    `set auth.token.realm to the URL clients use to reach regauth, ending in ${wanted[0]}`,
  );
}

/** certificate validity: with x5c the registry checks every certificate's dates. */
function certificateCheck(config: Config, now: Date): DoctorCheck {
  const chain = config.token.key.certificates;
  const expiring = chain.filter(
    (c) => new Date(c.validTo).getTime() - now.getTime() < MIN_CERT_DAYS * DAY_MS,
  );
  if (expiring.length === 0) {
    const first = [...chain].sort(
      (a, b) => new Date(a.validTo).getTime() - new Date(b.validTo).getTime(),
    )[0]!;
    return pass('certificate', `valid until ${new Date(first.validTo).toISOString()}`);
  }
  const c = expiring[0]!;
  const days = Math.floor((new Date(c.validTo).getTime() - now.getTime()) / DAY_MS);
  return fail(
    'certificate',
    `${c.subject.replace(/\n/g, ', ')} ${days < 0 ? 'has expired' : `expires in ${days} day${days === 1 ? '' : 's'}`} (${new Date(c.validTo).toISOString()})`,
    'rotate the key: `regauth keys rotate --dir DIR`, install the new bundle on the registry and restart it, then `regauth keys activate --dir DIR`',
  );
}

/** jwks (registry v3, only when its config names one): it trusts each key under its kid verbatim. */
function jwksCheck(config: Config, registry: RegistryConfig): DoctorCheck | undefined {
  const jwks = registryJwks(registry);
  if (jwks === undefined) return undefined;
  const { path } = jwks;
  const kid = config.token.key.kid;
  if (jwks.error !== undefined) {
    return fail(
      'jwks',
      `cannot read ${path}: ${jwks.error}`,
      'write it with `regauth keys init` (the jwks.json `regauth keys` writes holds every key of a rotation; GET /.well-known/jwks.json only the current one)',
    );
  }
  const { kids } = jwks;
  if (kids.includes(kid)) return pass('jwks', `${path} holds kid ${kid}`);
  // A token with x5c is verified against rootcertbundle; v3 reads the jwks only without one.
  if (config.token.key.x5c.length > 0) {
    return pass(
      'jwks',
      `regauth's tokens carry x5c: a registry v3 checks them against rootcertbundle, not ${path}`,
    );
  }
  return fail(
    'jwks',
    `${path} does not hold regauth's kid ${kid}; registry v3 rejects kid-only tokens`,
    'replace it with the jwks.json `regauth keys` writes (it holds every key of a rotation), or, without a rotation, GET /.well-known/jwks.json from regauth',
  );
}

/**
 * Which stage of `regauth keys rotate` / `keys activate` each side is in: the key regauth signs
 * with, and whether the registry's bundle file holds it, the next key (next.pem beside
 * token.certificate) and the previous one (previous.pem). Information, never a finding: whether
 * the bundle holds the signing key is the rootcertbundle check.
 */
function rotationStage(
  key: SigningKey,
  certificatePath: string,
  registryBundle: { path: string; certificates: X509Certificate[] },
  jwks?: { path: string; kids: string[] },
  accepted?: readonly string[],
): DoctorCheck {
  const bundle = registryBundle.certificates;
  // `keys` writes next.pem and previous.pem beside token.pem itself: where a symlink leads.
  const dir = dirname(realPathOr(certificatePath));
  // The registry reads a copy `--publish DIR2` wrote (a bundle.pem, where its path leads, outside
  // the key directory and every directory holding it): the commands advised write it too.
  const read = realPathOr(registryBundle.path);
  const copy = dirname(read);
  const holdsKeys = copy === sep || dir.startsWith(`${copy}${sep}`);
  const published = basename(read) === 'bundle.pem' && copy !== dir && !holdsKeys;
  const publish = published ? ` --publish ${shellQuote(copy)}` : '';
  // How the registry gets the files as they stand: the copy written again, or by hand.
  const install = (file: string) =>
    published
      ? `run \`regauth keys publish --dir ${shellQuote(dir)}${publish}\` and restart the registry`
      : `install ${join(dir, file)} on the registry${file === 'jwks.json' ? ' as well' : ''} and restart it`;
  /**
   * A rotation file's certificate, or undefined when there is none to use: one that cannot be
   * read whole, or whose key has no key ID here (RSA-PSS, Ed448, another curve) is left out, as
   * one that does not parse always was (serve refuses such a key at activation anyway).
   */
  const other = (name: string): X509Certificate | undefined => {
    try {
      const certificate = readCertificate(readFileSync(join(dir, name), 'utf8'));
      libtrustKeyId(certificate.publicKey);
      registryV3Thumbprint(certificate.publicKey);
      return certificate;
    } catch {
      return undefined;
    }
  };
  const inBundle = (k: KeyObject) => bundle.some((b) => sameKey(b.publicKey, k));
  const kid = (c: X509Certificate) => libtrustKeyId(c.publicKey);
  const signing = `regauth signs with ${key.libtrustKid}; the registry's bundle ${
    inBundle(key.publicKey) ? 'holds it' : 'does not hold it'
  }`;
  const next = other('next.pem');
  if (next) {
    const activate = `run \`regauth keys activate --dir ${shellQuote(dir)}${publish}\``;
    // A registry v3 given a jwks trusts tokens by kid from it: without the next key there,
    // activating would have it refuse every token (the jwks check only fails afterwards).
    const nextKids = [kid(next), registryV3Thumbprint(next.publicKey)];
    // A registry v3 with signingalgorithms refuses every token signed with another algorithm.
    const nextAlg = algOf(next.publicKey);
    if (accepted && nextAlg !== undefined && !accepted.includes(nextAlg)) {
      return {
        name: 'rotation',
        ok: false,
        message: `rotation pending; ${signing} and the next key ${kid(next)}, which signs ${nextAlg}: auth.token.signingalgorithms (${accepted.join(', ')}) does not hold it, so activating now would have a registry v3 refuse every token`,
        fix: `add ${nextAlg} to auth.token.signingalgorithms and restart the registry, then ${activate}${rotateAgain(key.alg, accepted, dir, publish)}`,
      };
    }
    if (jwks && inBundle(next.publicKey) && !nextKids.some((k) => jwks.kids.includes(k))) {
      return {
        name: 'rotation',
        ok: false,
        message: `rotation pending; ${signing} and the next key ${kid(next)}, but the registry's jwks (${jwks.path}) does not hold the next key: activating now would have a registry v3 refuse every token`,
        fix: `${install('jwks.json')}, then ${activate}`,
      };
    }
    return {
      name: 'rotation',
      ok: true,
      message: inBundle(next.publicKey)
        ? `rotation pending; ${signing} and the next key ${kid(next)}: once the registry has been restarted with it, ${activate}`
        : `rotation pending; ${signing}, not the next key ${kid(next)}: ${install('bundle.pem')}, then ${activate}`,
    };
  }
  const previous = other('previous.pem');
  const retired =
    previous && !sameKey(previous.publicKey, key.publicKey)
      ? inBundle(previous.publicKey)
        ? ` and the previous key ${kid(previous)} (tokens it signed stay valid until they expire)`
        : `, not the previous key ${kid(previous)} (tokens it signed fail once the registry restarts with it)`
      : '';
  return { name: 'rotation', ok: true, message: `no rotation pending; ${signing}${retired}` };
}

/**
 * The other way out of a next key whose algorithm the registry refuses: a rotate, again, to one
 * it accepts. Without --alg a rotate keeps the current key's algorithm; `--alg` takes
 * KEY_ALGORITHMS. '' when none is accepted.
 */
function rotateAgain(current: string, accepted: readonly string[], dir: string, publish: string): string {
  const alg = accepted.includes(current) ? undefined : KEY_ALGORITHMS.find((a) => accepted.includes(a));
  if (!accepted.includes(current) && alg === undefined) return '';
  const command = `regauth keys rotate --dir ${shellQuote(dir)}${alg ? ` --alg ${alg}` : ''}${publish}`;
  return `; or delete ${join(dir, 'next.key')} and ${join(dir, 'next.pem')} and run \`${command}\` again${
    alg ? '' : ` (without --alg it keeps ${current}, the current key's algorithm)`
  }`;
}

/** The algorithm regauth would sign with for this key, or undefined for one it cannot sign with. */
function algOf(key: KeyObject): string | undefined {
  try {
    return signingAlg(key, 'next.pem');
  } catch {
    return undefined;
  }
}

/** The path a symlink leads to (the path itself when it cannot be followed). */
function realPathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * `doctor --probe`: asks the realm for an anonymous token, as a client would, and checks that
 * regauth answers (a token, or its JSON 401). Nothing listening, or another server, is a finding.
 */
export async function probeRealm(
  realm: string,
  service: string | undefined,
  timeoutMs = 5000,
): Promise<DoctorCheck> {
  const fix =
    'set auth.token.realm to the URL clients use to reach regauth (through HAProxy, if any), and check that it is reachable from where the clients run';
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    return {
      name: 'realm',
      ok: false,
      message: `auth.token.realm ${JSON.stringify(realm)} is not an absolute URL`,
      fix,
    };
  }
  if (service) url.searchParams.set('service', service);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  } catch (err) {
    const cause = errorCode(err) ?? (err as { cause?: Error }).cause?.message ?? (err as Error).message;
    return { name: 'realm', ok: false, message: `nothing answers at ${realm} (${cause})`, fix };
  }
  // The body under the same deadline, and at most PROBE_BODY_BYTES of it: a realm that sends
  // its headers and then stalls, or a large file, is a finding too, never a crash.
  let body: string;
  try {
    body = (await readAtMost(res, PROBE_BODY_BYTES)).toString('utf8');
  } catch (err) {
    const cause = errorCode(err) ?? (err as Error).message;
    return {
      name: 'realm',
      ok: false,
      message: `${realm} answered ${res.status} but its body could not be read (${cause})`,
      fix,
    };
  }
  let json: { token?: unknown; errors?: unknown } | undefined;
  try {
    json = JSON.parse(body) as { token?: unknown; errors?: unknown };
  } catch {
    json = undefined;
  }
  if (
    (res.status === 200 && typeof json?.token === 'string') ||
    (res.status === 401 && Array.isArray(json?.errors))
  ) {
    return {
      name: 'realm',
      ok: true,
      message: `${realm} answered as regauth's token endpoint (${res.status})`,
    };
  }
  return {
    name: 'realm',
    ok: false,
    message: `${realm} answered ${res.status}${json ? '' : ' (not JSON)'}, not as regauth's token endpoint`,
    fix,
  };
}

/** The most of a realm's reply `doctor --probe` reads: a token reply is a few KB. */
const PROBE_BODY_BYTES = 64 * 1024;

/** The first `code` (ECONNREFUSED, ENOTFOUND…) in an error's causes, fetch wraps it deeply. */
function errorCode(err: unknown, depth = 0): string | undefined {
  if (depth > 4 || err === null || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string') return e.code;
  for (const inner of [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const code = errorCode(inner, depth + 1);
    if (code) return code;
  }
  return undefined;
}

/** `✓ issuer: …` / `✗ issuer: …` with an indented `fix:` line. */
export function formatCheck(check: DoctorCheck): string {
  return check.ok
    ? `ok   ${check.name}: ${check.message}`
    : `FAIL ${check.name}: ${check.message}\n     fix: ${check.fix}`;
}
