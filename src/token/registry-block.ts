import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

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

/**
 * The files the registry should trust for a signing key: `bundle.pem` beside the key when it is
 * there (`regauth keys init` and `keys rotate` write it; after a rotation it holds the previous
 * certificate too), else the certificate itself; and `jwks.json` beside it when it is there.
 */
export function registryTrustFiles(
  keyPath: string,
  certificatePath: string,
): { readonly bundle: string; readonly jwks: string | undefined } {
  const dir = dirname(keyPath);
  const bundle = join(dir, 'bundle.pem');
  const jwks = join(dir, 'jwks.json');
  return {
    bundle: existsSync(bundle) ? bundle : certificatePath,
    jwks: existsSync(jwks) ? jwks : undefined,
  };
}

/**
 * The registry's `auth.token` block to paste, as `regauth keys init` and `regauth serve` print
 * it (one wording for both).
 */
export function registryAuthBlock(fields: RegistryAuthFields): string {
  return [
    'auth:',
    '  token:',
    `    realm: ${fields.realm}   # where clients reach regauth`,
    `    service: ${fields.service}   # clients send it back as \`service\``,
    `    issuer: ${JSON.stringify(fields.issuer)}   # = token.issuer`,
    `    rootcertbundle: ${fields.bundle}`,
    ...(fields.jwks ? [`    jwks: ${fields.jwks}   # registry v3 only; v2.8 ignores it`] : []),
    '',
  ].join('\n');
}
