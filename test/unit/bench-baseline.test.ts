import { createPublicKey } from 'node:crypto';
import { jwtVerify, decodeProtectedHeader } from 'jose';
import { expect, test } from 'vitest';
import { startBaseline } from '../../bench/baseline.js';
import { generateSigningMaterial } from '../../src/token/generate.js';

test('the bench baseline signs a valid ES256 token of regauth’s shape', async () => {
  const { keyPem, certPem } = await generateSigningMaterial({
    alg: 'ES256',
    commonName: 'bench',
    validDays: 1,
  });
  const baseline = await startBaseline({ keyPem, certPem, issuer: 'bench', kid: 'K'.repeat(59) });
  try {
    const body = (await (await fetch(`${baseline.url}/auth`)).json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'issued_at', 'token']);
    const token = body['token'] as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'JWT', kid: 'K'.repeat(59) });
    const { payload } = await jwtVerify(token, createPublicKey(keyPem), {
      issuer: 'bench',
      audience: 'registry.bench',
    });
    expect(payload.access).toEqual([{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }]);
  } finally {
    await baseline.close();
  }
});

test('with signEach: false it answers every request with the reply made at start', async () => {
  const { keyPem, certPem } = await generateSigningMaterial({
    alg: 'ES256',
    commonName: 'bench',
    validDays: 1,
  });
  const options = { keyPem, certPem, issuer: 'bench', kid: 'K'.repeat(59) };
  const stored = await startBaseline({ ...options, signEach: false });
  const signing = await startBaseline(options);
  try {
    const token = async (url: string) =>
      ((await (await fetch(`${url}/auth`)).json()) as { token: string }).token;
    const first = await token(stored.url);
    expect(await token(stored.url)).toBe(first);
    await jwtVerify(first, createPublicKey(keyPem), { issuer: 'bench', audience: 'registry.bench' });
    // The signing baseline makes a new token (a new jti) for each request.
    expect(await token(signing.url)).not.toBe(await token(signing.url));
  } finally {
    await Promise.all([stored.close(), signing.close()]);
  }
});
