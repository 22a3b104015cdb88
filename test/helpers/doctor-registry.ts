import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningMaterial } from '../../src/token/generate.js';

/**
 * For the doctor tests: a regauth config (ES256 key, x5c default) in dir, its certificate's path,
 * and a maker of registry configs that trust it.
 */
export async function setup(dir: string, prefix = '') {
  const { keyPem, certPem } = await generateSigningMaterial({
    alg: 'ES256',
    commonName: 't',
    validDays: 365,
  });
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.pem');
  writeFileSync(keyPath, keyPem, { mode: 0o600 });
  writeFileSync(certPath, certPem);
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `${prefix ? `server: {path_prefix: ${prefix}}\n` : ''}token: {issuer: acme, key: ${keyPath}, certificate: ${certPath}}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n`,
  );
  const registry = (extra: string, realm = `realm: https://auth.example.com${prefix}/auth/token\n    `) => {
    const file = join(dir, `registry-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(
      file,
      `version: 0.1\nauth:\n  token:\n    ${realm}service: registry.test\n    issuer: acme\n    rootcertbundle: ${certPath}\n${extra}`,
    );
    return file;
  };
  return { config, certPath, registry };
}
