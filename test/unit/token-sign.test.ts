import { KeyObject, X509Certificate, randomBytes, sign, webcrypto } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { beforeAll, describe, expect, test } from 'vitest';
import { generateSigningMaterial, type SigningMaterial } from '../../src/token/generate.js';
import { loadSigningKey, type KidFormat } from '../../src/token/keys.js';
import { createTokenSigner, jwks, signAccessToken } from '../../src/token/sign.js';
import type { AccessTokenClaims, SigningAlg, SigningKey } from '../../src/token/types.js';
import { loadX509 } from '../../src/token/x509.js';
import { RegistryVerifyError, createRegistry28Verifier } from '../helpers/registry-verify.js';

const ISSUER = 'Acme auth server';
const SERVICE = 'registry.example.com';
const CERT_TIME = new Date('2026-03-01T12:00:00Z');
/** Frozen clock, unix seconds. */
const T = CERT_TIME.getTime() / 1000;
const ALGS = ['ES256', 'ES384', 'ES512', 'RS256'] as const;
const SIGNATURE_BYTES: Record<SigningAlg, number> = { ES256: 64, ES384: 96, ES512: 132, RS256: 256 };

const CLAIMS: AccessTokenClaims = {
  subject: 'alice',
  audience: SERVICE,
  access: [
    { type: 'repository', name: 'alice/app', actions: ['pull', 'push'] },
    { type: 'registry', name: 'catalog', actions: ['*'] },
  ],
};

const material: Partial<Record<SigningAlg, SigningMaterial>> = {};

beforeAll(async () => {
  for (const alg of ALGS) {
    material[alg] = await generateSigningMaterial({
      alg,
      commonName: `regauth ${alg}`,
      validDays: 30,
      now: CERT_TIME,
    });
  }
});

function signingKey(alg: SigningAlg, opts: { x5c?: boolean; kidFormat?: KidFormat } = {}): SigningKey {
  return loadSigningKey({
    ...material[alg]!,
    x5c: opts.x5c ?? true,
    kidFormat: opts.kidFormat ?? 'libtrust',
    now: CERT_TIME,
  });
}

function decodeSegment(segment: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The v2.8.3 registry with this bundle, its clock frozen at `nowMs`. */
function registry(rootCertBundle: string, nowMs = T * 1000 + 500) {
  return createRegistry28Verifier({ issuer: ISSUER, service: SERVICE, rootCertBundle, now: () => nowMs });
}

function rejection(verify: () => unknown): RegistryVerifyError {
  try {
    verify();
  } catch (err) {
    if (err instanceof RegistryVerifyError) return err;
    throw err;
  }
  throw new Error('the registry accepted the token');
}

describe('token format', () => {
  test('header is {alg, typ, kid, x5c}; claims are exactly the registry claim set', async () => {
    const key = signingKey('ES256');
    const token = await signAccessToken(key, CLAIMS, { issuer: ISSUER, expiresInSeconds: 900, now: T });
    const [header, claims] = token.split('.') as [string, string, string];

    expect(decodeSegment(header)).toStrictEqual({
      alg: 'ES256',
      typ: 'JWT',
      kid: key.libtrustKid,
      x5c: key.x5c,
    });
    expect(Object.keys(decodeSegment(header))).toEqual(['alg', 'typ', 'kid', 'x5c']);
    const payload = decodeSegment(claims);
    expect(payload).toStrictEqual({
      iss: ISSUER,
      sub: 'alice',
      aud: SERVICE,
      exp: T + 900,
      nbf: T,
      iat: T,
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22,}$/),
      access: [
        { type: 'repository', name: 'alice/app', actions: ['pull', 'push'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
      ],
    });
    expect(typeof payload.aud).toBe('string');
    expect((payload.exp as number) - (payload.iat as number)).toBe(900);
  });

  test('no x5c member when x5c is off; kid follows kidFormat', async () => {
    const key = signingKey('RS256', { x5c: false, kidFormat: 'thumbprint' });
    const token = await createTokenSigner(key, ISSUER)(CLAIMS, T, 60);
    expect(decodeProtectedHeader(token)).toStrictEqual({ alg: 'RS256', typ: 'JWT', kid: key.v3Kid });
  });

  test.each(ALGS)('%s: unpadded base64url segments, raw signature of the fixed size', async (alg) => {
    const token = await createTokenSigner(signingKey(alg), ISSUER)(CLAIMS, T, 60);
    expect(token).not.toContain('=');
    const segments = token.split('.');
    expect(segments).toHaveLength(3);
    for (const segment of segments) expect(segment).toMatch(/^[A-Za-z0-9_-]+$/);
    // ECDSA as R||S (IEEE P1363), not DER: a DER P-256 signature is 70-72 bytes.
    expect(Buffer.from(segments[2]!, 'base64url')).toHaveLength(SIGNATURE_BYTES[alg]);
  });

  test('only type, name and actions of an access entry reach the token; jti is fresh per token', async () => {
    const signer = createTokenSigner(signingKey('ES256'), ISSUER);
    const claims = {
      subject: '',
      audience: SERVICE,
      access: [{ type: 'repository', class: 'image', name: 'a', actions: [], extra: 1 }],
    };
    const a = decodeSegment((await signer(claims, T, 60)).split('.')[1]!);
    const b = decodeSegment((await signer(claims, T, 60)).split('.')[1]!);
    expect(a.access).toStrictEqual([{ type: 'repository', name: 'a', actions: [] }]);
    expect(a.sub).toBe('');
    expect(a.jti).not.toBe(b.jti);
  });

  test('jti: 128 random bits, never repeated across the refills of its random pool', async () => {
    const signer = createTokenSigner(signingKey('ES256'), ISSUER);
    const tokens = await Promise.all(Array.from({ length: 600 }, () => signer(CLAIMS, T, 60)));
    const jtis = tokens.map((token) => decodeSegment(token.split('.')[1]!).jti);
    for (const jti of jtis) expect(Buffer.from(jti as string, 'base64url')).toHaveLength(16);
    expect(new Set(jtis).size).toBe(600);
  });

  test.each([
    [T + 0.5, 60, '"now" must be an integer number of unix seconds'],
    [T, 0, '"expiresInSeconds" must be a positive integer'],
    [T, 1.5, '"expiresInSeconds" must be a positive integer'],
  ])('refuses now=%s expiresIn=%s', async (now, expiresIn, message) => {
    await expect(createTokenSigner(signingKey('ES256'), ISSUER)(CLAIMS, now, expiresIn)).rejects.toThrow(
      new TypeError(message),
    );
  });
});

describe('jose accepts the tokens', () => {
  test.each(ALGS)('%s round-trips through jwtVerify with the public key', async (alg) => {
    const key = signingKey(alg);
    const token = await createTokenSigner(key, ISSUER)(CLAIMS, T, 300);
    const { payload, protectedHeader } = await jwtVerify(token, key.publicKey, {
      issuer: ISSUER,
      audience: SERVICE,
      algorithms: [alg],
      currentDate: new Date((T + 10) * 1000),
    });
    expect(protectedHeader.alg).toBe(alg);
    expect(payload.sub).toBe('alice');
  });

  test.each(ALGS.flatMap((alg) => (['libtrust', 'thumbprint'] as const).map((kid) => [alg, kid] as const)))(
    '%s with a %s kid is found in the published JWKS (as registry v3 looks it up)',
    async (alg, kidFormat) => {
      const key = signingKey(alg, { x5c: false, kidFormat });
      const token = await createTokenSigner(key, ISSUER)(CLAIMS, T, 300);
      const set = createLocalJWKSet(jwks([key]) as { keys: JWK[] });
      const { protectedHeader } = await jwtVerify(token, set, {
        issuer: ISSUER,
        audience: SERVICE,
        currentDate: new Date(T * 1000),
      });
      expect(protectedHeader.kid).toBe(key.kid);
    },
  );
});

describe('jwks', () => {
  test('publishes each public key under its v3 thumbprint, then its libtrust ID', () => {
    const ec = signingKey('ES384');
    const rsa = signingKey('RS256');
    const set = jwks([ec, rsa]);
    const ecJwk = ec.publicKey.export({ format: 'jwk' });
    const rsaJwk = rsa.publicKey.export({ format: 'jwk' });
    expect(set).toStrictEqual({
      keys: [
        { ...ecJwk, kid: ec.v3Kid, alg: 'ES384', use: 'sig' },
        { ...ecJwk, kid: ec.libtrustKid, alg: 'ES384', use: 'sig' },
        { ...rsaJwk, kid: rsa.v3Kid, alg: 'RS256', use: 'sig' },
        { ...rsaJwk, kid: rsa.libtrustKid, alg: 'RS256', use: 'sig' },
      ],
    });
    expect(JSON.stringify(set)).not.toMatch(/"(d|p|q|dp|dq|qi)":/);
  });
});

describe('registry v2.8.3 accepts the tokens', () => {
  test.each(ALGS)('%s with x5c, the self-signed cert being the rootcertbundle', async (alg) => {
    const key = signingKey(alg);
    const token = await createTokenSigner(key, ISSUER)(CLAIMS, T, 300);
    const { claims } = registry(material[alg]!.certPem)(token);
    expect(claims.access).toEqual(CLAIMS.access);
  });

  test.each(ALGS)('%s kid-only with the libtrust kid', async (alg) => {
    const token = await createTokenSigner(signingKey(alg, { x5c: false }), ISSUER)(CLAIMS, T, 300);
    expect(registry(material[alg]!.certPem)(token).claims.sub).toBe('alice');
  });

  test('kid-only with the v3 thumbprint is unknown to v2.8', async () => {
    const key = signingKey('ES256', { x5c: false, kidFormat: 'thumbprint' });
    const token = await createTokenSigner(key, ISSUER)(CLAIMS, T, 300);
    expect(rejection(() => registry(material.ES256!.certPem)(token)).message).toBe(
      `token signed by untrusted key with ID: "${key.v3Kid}"`,
    );
  });

  test.each([
    ['another issuer', 'someone else', SERVICE, 'token from untrusted issuer'],
    ['another service', ISSUER, 'other.example.com', 'token intended for another audience'],
  ])('refuses %s', async (_name, issuer, audience, message) => {
    const key = signingKey('ES256');
    const token = await createTokenSigner(key, issuer)({ ...CLAIMS, audience }, T, 300);
    expect(rejection(() => registry(material.ES256!.certPem)(token)).message).toBe(message);
  });

  test('refuses a token whose x5c does not chain to the bundle', async () => {
    const token = await createTokenSigner(signingKey('ES256'), ISSUER)(CLAIMS, T, 300);
    expect(rejection(() => registry(material.ES384!.certPem)(token)).message).toMatch(
      /^unable to verify certificate chain/,
    );
  });

  // distribution registry/auth/token/token_test.go TestLeeway. Go compares time.Now(), which has
  // sub-second precision, to whole-second exp/nbf: the registry clock is frozen mid-second like
  // a real one, plus one row on the second itself to pin the strict comparisons.
  const MID_SECOND = T * 1000 + 500;
  test.each([
    ['nbf = now+5s', T + 5, 300, MID_SECOND, null],
    ['nbf = now+60s', T + 60, 300, MID_SECOND, null],
    ['nbf = now+61s', T + 61, 300, MID_SECOND, 'token used before time'],
    ['exp = now-59s', T - 359, 300, MID_SECOND, null],
    ['exp = now-60s', T - 360, 300, MID_SECOND, 'token has expired'],
    ['exp = now-60s, clock exactly on the second', T - 360, 300, T * 1000, null],
    ['exp = now-61s, clock exactly on the second', T - 361, 300, T * 1000, 'token has expired'],
  ])('leeway: %s', async (_name, signedAt, expiresIn, registryNowMs, error) => {
    const token = await createTokenSigner(signingKey('ES256'), ISSUER)(CLAIMS, signedAt, expiresIn);
    const verify = (): unknown => registry(material.ES256!.certPem, registryNowMs)(token);
    if (error === null) expect(verify).not.toThrow();
    else expect(rejection(verify).message).toBe(error);
  });
});

describe('certificate chain leaf ← intermediate ← root', () => {
  type X509 = Awaited<ReturnType<typeof loadX509>>;
  let x509: X509;
  let chain: { rootPem: string; intermediatePem: string; leafPem: string; leafKeyPem: string };
  const NOT_AFTER_INTERMEDIATE = new Date('2026-03-10T00:00:00Z');
  let pairs: { intermediate: webcrypto.CryptoKeyPair; leaf: webcrypto.CryptoKeyPair };

  async function ecKeys(): Promise<webcrypto.CryptoKeyPair> {
    return (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
  }

  async function issue(p: {
    subject: string;
    issuer: string;
    publicKey: webcrypto.CryptoKey;
    signingKey: webcrypto.CryptoKey;
    ca: boolean;
    notAfter: Date;
    hash?: 'SHA-256' | 'SHA-1';
  }): Promise<string> {
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomBytes(12).toString('hex'),
      subject: [{ CN: [p.subject] }],
      issuer: [{ CN: [p.issuer] }],
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: p.notAfter,
      signingAlgorithm: { name: 'ECDSA', hash: p.hash ?? 'SHA-256' },
      publicKey: p.publicKey,
      signingKey: p.signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(p.ca, undefined, true),
        new x509.KeyUsagesExtension(
          p.ca ? x509.KeyUsageFlags.keyCertSign : x509.KeyUsageFlags.digitalSignature,
          true,
        ),
      ],
    });
    return `${cert.toString('pem')}\n`;
  }

  beforeAll(async () => {
    x509 = await loadX509();
    const [root, intermediate, leaf] = [await ecKeys(), await ecKeys(), await ecKeys()];
    pairs = { intermediate, leaf };
    const far = new Date('2036-01-01T00:00:00Z');
    chain = {
      rootPem: await issue({
        subject: 'Test Root',
        issuer: 'Test Root',
        publicKey: root.publicKey,
        signingKey: root.privateKey,
        ca: true,
        notAfter: far,
      }),
      intermediatePem: await issue({
        subject: 'Test Intermediate',
        issuer: 'Test Root',
        publicKey: intermediate.publicKey,
        signingKey: root.privateKey,
        ca: true,
        notAfter: NOT_AFTER_INTERMEDIATE,
      }),
      leafPem: await issue({
        subject: 'regauth signer',
        issuer: 'Test Intermediate',
        publicKey: leaf.publicKey,
        signingKey: intermediate.privateKey,
        ca: false,
        notAfter: far,
      }),
      leafKeyPem: KeyObject.from(leaf.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    };
  });

  /** The leaf's certificate, signed with SHA-1 by `issuer`'s key. */
  function sha1Signed(issuer: string, signingKey: webcrypto.CryptoKey): Promise<string> {
    return issue({
      subject: 'regauth signer',
      issuer,
      publicKey: pairs.leaf.publicKey,
      signingKey,
      ca: false,
      notAfter: new Date('2036-01-01T00:00:00Z'),
      hash: 'SHA-1',
    });
  }

  function chainKey(certPem: string, x5c = true): SigningKey {
    return loadSigningKey({ keyPem: chain.leafKeyPem, certPem, x5c, kidFormat: 'libtrust', now: CERT_TIME });
  }

  test('a certificate signed with SHA-1 by another is refused at load (Go x509 refuses it); without x5c it is not checked', async () => {
    const sha1Leaf = await sha1Signed('Test Intermediate', pairs.intermediate.privateKey);
    expect(() => chainKey(sha1Leaf + chain.intermediatePem)).toThrow(
      'certificate #1 (CN=regauth signer) is signed with ecdsa-with-SHA1, which the registry refuses',
    );
    expect(chainKey(sha1Leaf + chain.intermediatePem, false).x5c).toEqual([]);
  });

  test.each([
    [32, true],
    [222, false], // openssl's default for RSA-PSS keys: Go refuses anything but the hash length
  ])(
    'RSASSA-PSS with SHA-256 and a salt of %i bytes: accepted %s (Go takes salt = hash length only)',
    async (saltLength, ok) => {
      const ca = (await webcrypto.subtle.generateKey(
        { name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
        true,
        ['sign', 'verify'],
      )) as webcrypto.CryptoKeyPair;
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: randomBytes(8).toString('hex'),
        subject: 'CN=regauth signer',
        issuer: 'CN=PSS CA',
        notBefore: new Date('2026-01-01T00:00:00Z'),
        notAfter: new Date('2036-01-01T00:00:00Z'),
        signingAlgorithm: { name: 'RSA-PSS', saltLength },
        publicKey: pairs.leaf.publicKey,
        signingKey: ca.privateKey,
      });
      const load = () => chainKey(cert.toString('pem'));
      if (ok) expect(load().x5c).toHaveLength(1);
      else expect(load).toThrow('is signed with RSASSA-PSS with parameters other than SHA-256/384/512');
    },
  );

  test('a self-signed certificate is trusted as it is: its own SHA-1 signature is not held against it', async () => {
    const selfSigned = await sha1Signed('regauth signer', pairs.leaf.privateKey);
    expect(chainKey(selfSigned).x5c).toHaveLength(1);
  });

  test('x5c carries leaf then intermediate and verifies to the root bundle', async () => {
    const key = chainKey(chain.leafPem + chain.intermediatePem);
    expect(key.x5c).toEqual([
      new X509Certificate(chain.leafPem).raw.toString('base64'),
      new X509Certificate(chain.intermediatePem).raw.toString('base64'),
    ]);
    const token = await createTokenSigner(key, ISSUER)(CLAIMS, T, 300);
    expect(registry(chain.rootPem)(token).claims.sub).toBe('alice');
  });

  test('without the intermediate in x5c the chain does not verify', async () => {
    const token = await createTokenSigner(chainKey(chain.leafPem), ISSUER)(CLAIMS, T, 300);
    expect(rejection(() => registry(chain.rootPem)(token)).message).toMatch(
      /^unable to verify certificate chain/,
    );
  });

  test('against another root the chain does not verify', async () => {
    const token = await createTokenSigner(chainKey(chain.leafPem + chain.intermediatePem), ISSUER)(
      CLAIMS,
      T,
      300,
    );
    expect(rejection(() => registry(material.ES256!.certPem)(token)).message).toMatch(
      /^unable to verify certificate chain/,
    );
  });

  test('an expired intermediate breaks the chain (Go x509.Verify checks every date)', async () => {
    const token = await createTokenSigner(chainKey(chain.leafPem + chain.intermediatePem), ISSUER)(
      CLAIMS,
      NOT_AFTER_INTERMEDIATE.getTime() / 1000 + 10,
      300,
    );
    const before = NOT_AFTER_INTERMEDIATE.getTime() - 1000;
    expect(registry(chain.rootPem, before)(token).claims.sub).toBe('alice');
    const after = NOT_AFTER_INTERMEDIATE.getTime() + 20_000;
    expect(rejection(() => registry(chain.rootPem, after)(token)).message).toMatch(
      /^unable to verify certificate chain/,
    );
  });

  test('loading refuses that chain once the intermediate has expired', () => {
    expect(() =>
      loadSigningKey({
        keyPem: chain.leafKeyPem,
        certPem: chain.leafPem + chain.intermediatePem,
        x5c: true,
        kidFormat: 'libtrust',
        now: new Date(NOT_AFTER_INTERMEDIATE.getTime() + 1000),
      }),
    ).toThrow(
      'certificate #2 (CN=Test Intermediate) expired at 2026-03-10T00:00:00.000Z; the registry would reject the x5c chain',
    );
  });
});

describe('the test registry is as strict as the real one', () => {
  /** A hand-made token signed with the ES256 key, to check what the verifier refuses. */
  function forge(header: object, claims: object, opts: { der?: boolean; padded?: boolean } = {}): string {
    const key = signingKey('ES256');
    const enc = (v: object): string => {
      const s = Buffer.from(JSON.stringify(v)).toString('base64');
      return (opts.padded ? s : s.replace(/=+$/, '')).replace(/\+/g, '-').replace(/\//g, '_');
    };
    const input = `${enc(header)}.${enc(claims)}`;
    const sig = sign('sha256', Buffer.from(input), {
      key: key.privateKey,
      dsaEncoding: opts.der ? 'der' : 'ieee-p1363',
    }).toString('base64url');
    return `${input}.${sig}`;
  }
  const header = (): object => ({ alg: 'ES256', typ: 'JWT', kid: signingKey('ES256').libtrustKid });
  const claims = { iss: ISSUER, sub: 'a', aud: SERVICE, exp: T + 300, nbf: T, iat: T, jti: 'j', access: [] };

  test.each<[string, () => string, 'malformed' | 'invalid' | null]>([
    ['the forged baseline', () => forge(header(), claims), null],
    [
      'padded base64url (v2.8 accepts it)',
      () => {
        const token = forge(header(), claims, { padded: true });
        expect(token.split('.').slice(0, 2).join('.')).toContain('=');
        return token;
      },
      null,
    ],
    ['aud as an array', () => forge(header(), { ...claims, aud: [SERVICE] }), 'malformed'],
    ['exp as a float', () => forge(header(), { ...claims, exp: T + 300.5 }), 'malformed'],
    ['exp as a string', () => forge(header(), { ...claims, exp: String(T + 300) }), 'malformed'],
    ['no exp', () => forge(header(), { ...claims, exp: undefined }), 'invalid'],
    ['a DER ECDSA signature', () => forge(header(), claims, { der: true }), 'invalid'],
    ['ES384 announced for a P-256 key', () => forge({ ...header(), alg: 'ES384' }, claims), 'invalid'],
    ['two segments', () => forge(header(), claims).split('.').slice(0, 2).join('.'), 'malformed'],
  ])('%s', (_name, token, kind) => {
    const verify = (): unknown => registry(material.ES256!.certPem)(token());
    if (kind === null) expect(verify).not.toThrow();
    else expect(rejection(verify).kind).toBe(kind);
  });
});
