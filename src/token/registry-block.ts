import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { shellQuote } from '../core/shell.js';
import { yamlScalar } from '../core/yaml-scalar.js';
import { certificateFingerprints, holdsPrivateKey, readableCertificates, sameKey } from './keys.js';
import type { SigningKey } from './types.js';

/** What the registry's `auth.token` needs from regauth. */
export interface RegistryAuthFields {
  /** Where clients reach regauth's token endpoint. */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** `auth.token.rootcertbundle`: the certificates the registry trusts. */
  readonly bundle: string;
  /** `auth.token.jwks` (registry v3), when there is one. */
  readonly jwks: string | undefined;
}

/** What the registry should trust for a signing key (see {@link registryTrustFiles}). */
export interface RegistryTrustFiles {
  /** `auth.token.rootcertbundle`. */
  readonly bundle: string;
  /** `auth.token.jwks` (registry v3), when there is one. */
  readonly jwks: string | undefined;
  /**
   * Set when the file that would be the bundle holds a private key too (a combined PEM): that
   * file, and the command that writes its certificates alone to `bundle`.
   */
  readonly combined?: string;
  readonly makeBundle?: string;
}

/** How the tokens name their key, for which files can verify them. */
export interface TokenKeyNaming {
  /** The tokens carry the certificate chain (`token.x5c`). */
  readonly x5c: boolean;
  /** The kid in the tokens' header. */
  readonly kid: string;
}

/**
 * The files the registry should trust for a signing key: `bundle.pem` beside the key when it is
 * there (`regauth keys init` and `keys rotate` write it; after a rotation it holds the previous
 * certificate too) and trusts the signing certificate ({@link bundleTrusts}), else the
 * certificate itself; and `jwks.json` beside it when it holds the signing key under the tokens'
 * kid. A bundle.pem or jwks.json left from another key (token.key and its certificate replaced
 * by hand after `keys init`) would have the registry refuse every token. A certificate file that
 * holds the private key too (a combined PEM) is never named: the bundle is then `bundle.pem`
 * beside the key, with the command that writes it.
 */
export function registryTrustFiles(
  keyPath: string,
  certificatePath: string,
  naming: TokenKeyNaming,
): RegistryTrustFiles {
  const dir = dirname(keyPath);
  const bundle = join(dir, 'bundle.pem');
  const jwks = join(dir, 'jwks.json');
  const chain = certificatesIn(certificatePath);
  const trust = {
    bundle:
      existsSync(bundle) && (chain.length === 0 || bundleTrusts(certificatesIn(bundle), chain, naming.x5c))
        ? bundle
        : certificatePath,
    jwks:
      existsSync(jwks) && (chain.length === 0 || jwksHolds(jwks, chain[0]!, naming.kid)) ? jwks : undefined,
  };
  if (!fileHoldsPrivateKey(trust.bundle)) return trust;
  // The file the certificates alone go to: bundle.pem, unless that is the combined file itself.
  const target = trust.bundle === bundle ? join(dir, 'certificates.pem') : bundle;
  if (holdsCertificatesOf(target, trust.bundle)) return { ...trust, bundle: target };
  return {
    ...trust,
    bundle: target,
    combined: trust.bundle,
    makeBundle: certificatesOnly(trust.bundle, target),
  };
}

/** registryTrustFiles for a config's signing key (`token:`), as its tokens name it. */
export function signingKeyTrustFiles(token: {
  readonly keyPath: string;
  readonly certificatePath: string;
  readonly key: Pick<SigningKey, 'x5c' | 'kid'>;
}): RegistryTrustFiles {
  return registryTrustFiles(token.keyPath, token.certificatePath, {
    x5c: token.key.x5c.length > 0,
    kid: token.key.kid,
  });
}

/**
 * The shell command that writes every certificate of a PEM file, and nothing else, to another
 * (`append`: added at its end).
 */
export function certificatesOnly(from: string, to: string, append = false): string {
  return `sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' ${shellQuote(from)} ${append ? '>>' : '>'} ${shellQuote(to)}`;
}

/**
 * Has the advised command run: does `path` hold the certificates of the combined file `from` (the
 * signing certificate among them) and no private key? An empty or older file is not it.
 */
function holdsCertificatesOf(path: string, from: string): boolean {
  try {
    const text = readFileSync(path, 'utf8');
    const have = new Set(certificateFingerprints(text));
    const want = certificateFingerprints(readFileSync(from, 'utf8'));
    return want.length > 0 && want.every((c) => have.has(c)) && !holdsPrivateKey(text);
  } catch {
    return false;
  }
}

/** The certificates of a PEM file (none when it cannot be read). */
function certificatesIn(path: string): X509Certificate[] {
  try {
    return readableCertificates(readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
}

/**
 * Whether a registry given `bundle` as its rootcertbundle verifies tokens signed with the first
 * certificate of `chain`: without `x5c`, it holds that certificate's key (a kid-only token's key
 * is looked up by kid among the bundle's certificates); with it, the certificate itself, another
 * of the chain's, or the issuer of one (a CA's root the operator keeps there).
 */
export function bundleTrusts(
  bundle: readonly X509Certificate[],
  chain: readonly X509Certificate[],
  x5c: boolean,
): 'leaf' | 'chain' | false {
  const leaf = chain[0];
  if (leaf === undefined) return false;
  // Kid-only tokens are verified by the key alone; tokens carrying x5c as a certificate chain, so
  // another certificate of the same key (an earlier one, renewed since) verifies nothing.
  if (!x5c) return bundle.some((b) => sameKey(b.publicKey, leaf.publicKey)) ? 'leaf' : false;
  if (bundle.some((b) => b.raw.equals(leaf.raw))) return 'leaf';
  // A path the registry can build (as Go's x509 Verify, which tries every parent): from the
  // leaf, through the chain's certificates each of which issued the one before, to one the bundle
  // holds or whose issuer it holds. A certificate of the chain that issued nothing on such a path
  // (an intermediate renewed since) trusts nothing.
  const issued = (child: X509Certificate, parent: X509Certificate) =>
    child.checkIssued(parent) && child.verify(parent.publicKey);
  const seen = new Set<X509Certificate>();
  const reaches = (current: X509Certificate): boolean => {
    if (bundle.some((b) => b.raw.equals(current.raw) || issued(current, b))) return true;
    seen.add(current);
    return chain.some((c) => !seen.has(c) && !c.raw.equals(current.raw) && issued(current, c) && reaches(c));
  };
  return reaches(leaf) ? 'chain' : false;
}

/** Does the JWKS hold the signing certificate's public key under the tokens' kid? */
function jwksHolds(path: string, leaf: X509Certificate, kid: string): boolean {
  try {
    const { keys } = JSON.parse(readFileSync(path, 'utf8')) as { keys?: unknown };
    if (!Array.isArray(keys)) return false;
    const want = leaf.publicKey.export({ format: 'jwk' });
    return keys.some((k: unknown) => {
      const have = k as Record<string, unknown>;
      return (
        have['kid'] === kid &&
        have['x'] === want.x &&
        have['y'] === want.y &&
        have['n'] === want.n &&
        have['e'] === want.e
      );
    });
  } catch {
    return false;
  }
}

function fileHoldsPrivateKey(path: string): boolean {
  try {
    return holdsPrivateKey(readFileSync(path, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The registry's `auth.token` block to paste, as `regauth keys init` and `regauth serve` print
 * it (one wording for both).
 */
export function registryAuthBlock(fields: RegistryAuthFields): string {
  return [
    'auth:',
    '  token:',
    `    realm: ${yamlScalar(fields.realm)}   # where clients reach regauth`,
    `    service: ${yamlScalar(fields.service)}   # clients send it back as \`service\``,
    `    issuer: ${JSON.stringify(fields.issuer)}   # = token.issuer`,
    `    rootcertbundle: ${yamlScalar(fields.bundle)}`,
    ...(fields.jwks ? [`    jwks: ${yamlScalar(fields.jwks)}   # registry v3 only; v2.8 ignores it`] : []),
    '',
  ].join('\n');
}
