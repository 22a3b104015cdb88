import bcrypt from 'bcryptjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningMaterial } from '../../src/token/generate.js';
import type { SigningAlg } from '../../src/token/types.js';

/** A temporary directory removed by `cleanup()`. */
export function tempDir(prefix = 'regauth-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a freshly generated signing key and self-signed certificate; never committed. */
export async function writeSigningKey(
  dir: string,
  alg: SigningAlg = 'ES256',
): Promise<{ keyPath: string; certPath: string }> {
  const { keyPem, certPem } = await generateSigningMaterial({ alg, commonName: `test ${alg}`, validDays: 2 });
  const keyPath = join(dir, `token-${alg}.key`);
  const certPath = join(dir, `token-${alg}.pem`);
  writeFileSync(keyPath, keyPem, { mode: 0o600 });
  writeFileSync(certPath, certPem);
  return { keyPath, certPath };
}

/** bcrypt at the lowest cost, for fast tests; `$2y$` as htpasswd writes it. */
export function hash(password: string): string {
  return bcrypt.hashSync(password, 4).replace(/^\$2b\$/, '$2y$');
}

/** Basic header value. */
export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Random password generated per test run. */
export function randomPassword(): string {
  return `pw-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
}
