import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { freePort } from './harness/ports.js';
import { runCommand, startProcess, waitFor, type ProcessHandle } from './harness/proc.js';
import { startRegistry, type Registry } from './harness/registry.js';
import { inspect, push } from './harness/skopeo.js';

/**
 * The README's quick start, as a new user follows it: `regauth serve` on the example config
 * (built CLI, `npm test` builds first) creates a development key and prints the registry's
 * `auth.token` block; a registry configured from that block accepts pushes from the example
 * user. Only the port differs from config.example.yml, so parallel runs cannot collide.
 */
const tmp = tempDir('regauth-quickstart-');
let regauth: ProcessHandle;
let registry: Registry;

beforeAll(async () => {
  const port = await freePort();
  const example = readFileSync(new URL('../../config.example.yml', import.meta.url), 'utf8');
  expect(example).toMatch(/addr: '127\.0\.0\.1:5001'/);
  const config = join(tmp.dir, 'config.yml');
  writeFileSync(config, example.replace(/addr: '127\.0\.0\.1:5001'/, `addr: '127.0.0.1:${port}'`));
  const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
  regauth = await startProcess(process.execPath, [cli, 'serve', '-c', config], {
    cwd: tmp.dir,
    timeoutMs: 20_000,
    name: 'regauth',
  });
  await waitFor(() => regauth.stderr().includes('rootcertbundle:'), 20_000, 'the auth.token block');
  const block = regauth.stderr();
  const value = (key: string) =>
    new RegExp(`^\\s+${key}: (.+)$`, 'm')
      .exec(block)?.[1]
      ?.replace(/\s+#.*$/, '')
      .replace(/^"|"$/g, '') ?? '';
  registry = await startRegistry({
    realm: value('realm'),
    service: value('service'),
    issuer: value('issuer'),
    rootCertBundlePath: value('rootcertbundle'),
  });
});
afterAll(async () => {
  await registry?.stop();
  await regauth?.stop();
  tmp.cleanup();
});

test('the development key lands in ./data and the printed block points at it', () => {
  expect(regauth.stderr()).toContain(`rootcertbundle: ${join(tmp.dir, 'data', 'token.pem')}`);
  expect(readFileSync(join(tmp.dir, 'data', 'token.key'), 'utf8')).toContain('PRIVATE KEY');
});

test('the example user pushes to her namespace and not elsewhere', async () => {
  // The README builds its image with examples/tiny-image.sh.
  const script = new URL('../../examples/tiny-image.sh', import.meta.url).pathname;
  const built = await runCommand('bash', [script, join(tmp.dir, 'tiny'), 'v1'], { timeoutMs: 20_000 });
  expect(built.code).toBe(0);
  const ref = built.stdout.trim();
  expect(ref).toBe(`oci:${join(tmp.dir, 'tiny')}:v1`);
  const creds = { user: 'alice', password: 'alice-password' };
  const pushed = await push(ref, registry.host, 'alice/hello', 'v1', creds);
  expect(pushed.stderr).toBe('');
  expect(pushed.code).toBe(0);
  expect((await inspect(registry.host, 'alice/hello', 'v1', creds)).code).toBe(0);
  expect((await push(ref, registry.host, 'library/hello', 'v1', creds)).code).not.toBe(0);
});
