/**
 * Found by a review of the doctor checks of 666821d: the registry's `auth.token` options
 * (autoredirect, autoredirectpath, realm, signingalgorithms) judged as the registry judges them,
 * and `--probe` on a realm that is no absolute URL. Each group of tests says what it found.
 */
import { afterAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { setup } from '../helpers/doctor-registry.js';

const tmp = tempDir('regauth-doctor-registry-options-');
afterAll(() => tmp.cleanup());

// Registry 2.8 and v3 require auth.token.realm to be a string even with autoredirect: true
// (checkOptions: "token auth requires a valid option string: \"realm\"") and refuse to start
// without it. With autoredirect, doctor skips the realm entirely and says all is well.
test('doctor: autoredirect without realm is a finding (the registry refuses to start)', async () => {
  const { config, registry } = await setup(tmp.dir);
  const run = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry('    autoredirect: true\n', ''),
  ]);
  expect(run.stdout).not.toContain('the registry trusts regauth');
  expect(run.stdout).toMatch(/^FAIL realm:/m);
  expect(run.code).toBe(1);
});

// Registry 2.8 and v3 take autoredirect only as a YAML bool: `autoredirect: "true"` stops them at
// start-up ("token auth requires a valid option bool: autoredirect"). v3, with autoredirect on,
// takes autoredirectpath only as a string: `autoredirectpath:` (null) stops it too. doctor
// ignores both and says the registry trusts regauth.
test('doctor: autoredirect as a string is a finding', async () => {
  const { config, registry } = await setup(tmp.dir);
  const run = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry('    autoredirect: "true"\n'),
  ]);
  expect(run.stdout).not.toContain('the registry trusts regauth');
  expect(run.code).toBe(1);
});

test('doctor: autoredirectpath null with autoredirect is a finding (v3)', async () => {
  const { config, registry } = await setup(tmp.dir);
  const run = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry('    autoredirect: true\n    autoredirectpath:\n'),
  ]);
  expect(run.stdout).not.toContain('the registry trusts regauth');
  expect(run.code).toBe(1);
});

// The registry reads its config with Go's yaml.v2 (YAML 1.1): `autoredirect: yes` (or on, Yes, ON)
// is true there, and its challenge sends clients to https://<registry host>/auth/token. doctor
// reads the file as YAML 1.2, sees the string "yes", and checks the (ignored) realm instead:
// under server.path_prefix /regauth it reports the registry trusting regauth, yet every login fails.
test('doctor: autoredirect: yes is autoredirect for the registry', async () => {
  const { config, registry } = await setup(tmp.dir, '/regauth');
  const run = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry('    autoredirect: yes\n'),
  ]);
  expect(run.stdout).not.toContain('the registry trusts regauth');
  expect(run.stdout).toMatch(/^FAIL realm:/m);
  expect(run.code).toBe(1);
});

// Registry v3 (checkOptions) uses /auth/token when autoredirectpath is "", and builds the realm
// with url.URL{Host, Path}.String(), which puts the "/" before a path written without one. doctor
// reports both as the registry sending clients "to  on its own host" / "to auth/token": false findings.
for (const path of ['""', 'auth/token']) {
  test(`doctor: autoredirectpath ${path} reaches /auth/token`, async () => {
    const { config, registry } = await setup(tmp.dir);
    const run = await regauth([
      'doctor',
      '-c',
      config,
      '--registry-config',
      registry(`    autoredirect: true\n    autoredirectpath: ${path}\n`),
    ]);
    expect(run.stdout).toMatch(/^ok {3}realm:/m);
    expect(run.code).toBe(0);
  });
}

// With autoredirect the realm check passes without parsing realm (the registry ignores it, so a
// placeholder such as "/auth/token" is common), and `doctor --probe` then calls new URL(realm)
// outside any try: "TypeError: Invalid URL", exit 70 ("this is a bug in regauth").
test('doctor --probe: autoredirect with a relative realm does not crash', async () => {
  const { config, registry } = await setup(tmp.dir);
  const file = registry('    autoredirect: true\n', 'realm: /auth/token\n    ');
  const run = await regauth(['doctor', '--probe', '-c', config, '--registry-config', file]);
  expect(run.stderr).not.toContain('TypeError');
  expect(run.code).not.toBe(70);
});

// Registry v3: an empty signingalgorithms list means the default list, every algorithm it knows
// ("if len(signAlgos) == 0 { signAlgos = defaultSigningAlgorithms }"). doctor reports
// "(not a list) does not hold ES256 ... refuses every token": a false finding, exit 1.
test('doctor: signingalgorithms: [] accepts every algorithm', async () => {
  const { config, registry } = await setup(tmp.dir);
  const run = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry('    signingalgorithms: []\n'),
  ]);
  expect(run.stdout).not.toMatch(/^FAIL signingalgorithms:/m);
  expect(run.code).toBe(0);
});

// Registry v3 refuses to start on a signingalgorithms entry it does not know ("unsupported signing
// algorithm: es256", names are case-sensitive) or that is not a string ("signingalgorithms must be
// a list of signing algorithms"). doctor skips such entries and passes when ES256 is also listed.
for (const list of ['[ES256, es256]', '[ES256, 5]']) {
  test(`doctor: signingalgorithms ${list} stops the registry`, async () => {
    const { config, registry } = await setup(tmp.dir);
    const run = await regauth([
      'doctor',
      '-c',
      config,
      '--registry-config',
      registry(`    signingalgorithms: ${list}\n`),
    ]);
    expect(run.stdout).toMatch(/^FAIL signingalgorithms:/m);
    expect(run.code).toBe(1);
  });
}

// yaml.v2 reads `autoredirect: yes` bare as true, but `"yes"` quoted is a string, which the
// registry refuses ("token auth requires a valid option bool: autoredirect"), and so is `yEs`,
// a spelling its resolve table does not hold. doctor took them as true and said the registry
// trusts regauth, where the registry does not start.
for (const written of ['"yes"', "'on'", '"Y"', 'yEs']) {
  test(`doctor: autoredirect: ${written} stops the registry`, async () => {
    const { config, registry } = await setup(tmp.dir);
    const run = await regauth([
      'doctor',
      '-c',
      config,
      '--registry-config',
      registry(`    autoredirect: ${written}\n`),
    ]);
    expect(run.stdout).toMatch(/^FAIL realm: auth\.token\.autoredirect .* is not true or false/m);
    expect(run.code).toBe(1);
  });
}
