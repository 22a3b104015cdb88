import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { basename, dirname, join, posix, relative } from 'node:path';
import { load as parseYaml } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { parseIpMatcher } from '../../src/authz/ip.js';
import { ensureRefreshSecret } from '../../src/token/refresh.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { selfSignedCert } from './harness/certs.js';
import { REPO_ROOT, startHaproxy, startRegistryFromFile } from './harness/deploy.js';
import { runCommand } from './harness/proc.js';
import { parseChallenge } from './harness/registry.js';

/**
 * Which files are regauth configs: every `examples/*.yml` (the registry's config lives in
 * `examples/registry/`, so the glob leaves it out) and every `compose/regauth/*.yml`. A new
 * example dropped there is loaded here without touching this file.
 *
 * Examples are written as they are mounted in the container, and the test maps those paths:
 *   /keys/NAME          the signing material of `regauth keys init --dir /keys` (*.key: the key,
 *                       anything else: its certificate), generated here
 *   /config/NAME        a file shipped next to the example (examples/NAME, compose/regauth/NAME)
 *   /run/secrets/NAME   a secret (Docker/compose secrets), generated here with random content
 * Any other absolute path in an example makes its test fail, naming the path.
 */
const REGAUTH_CONFIG_DIRS = ['examples', 'compose/regauth'];
const regauthConfigs = REGAUTH_CONFIG_DIRS.flatMap((dir) =>
  readdirSync(join(REPO_ROOT, dir))
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .map((f) => `${dir}/${f}`),
).sort();

const MOUNTS = /(?<=^|[\s'"[,:{])\/(keys|config|run\/secrets)\/([\w.-]+)/gm;

let tmp: ReturnType<typeof tempDir>;
let signing: { keyPath: string; certPath: string };

beforeAll(async () => {
  tmp = tempDir('regauth-examples-');
  signing = await writeSigningKey(tmp.dir, 'ES256');
});
afterAll(() => tmp.cleanup());

/**
 * Copies the example into a fresh directory with its mount paths mapped to real files, and
 * returns the copy's path.
 */
function materialize(example: string): string {
  const root = join(tmp.dir, example.replace(/[/.]/g, '_'));
  const source = join(REPO_ROOT, example);
  for (const sub of ['keys', 'config', 'secrets']) mkdirSync(join(root, sub), { recursive: true });
  const text = readFileSync(source, 'utf8').replace(MOUNTS, (_m, mount: string, name: string) => {
    const target = join(root, mount === 'run/secrets' ? 'secrets' : mount, name);
    if (mount === 'keys') {
      copyFileSync(name.endsWith('.key') ? signing.keyPath : signing.certPath, target);
    } else if (mount === 'config') {
      const shipped = join(dirname(source), name);
      if (!existsSync(shipped) || !statSync(shipped).isFile()) {
        throw new Error(`${example} names /config/${name}; ship it as ${relative(REPO_ROOT, shipped)}`);
      }
      copyFileSync(shipped, target);
    } else {
      writeFileSync(target, randomBytes(32).toString('hex'), { mode: 0o600 });
    }
    return target;
  });
  const leftover = /(?<=^|[\s'"[,:{])\/(?!keys\/|config\/|run\/secrets\/)[\w.-]+\/[\w./-]*/m.exec(
    text.replace(/^\s*#.*$/gm, '').replaceAll(root, ''),
  );
  if (leftover) {
    throw new Error(`${example} names ${leftover[0]}: use /keys/, /config/ or /run/secrets/ (see this test)`);
  }
  const copy = join(root, 'config', basename(example));
  writeFileSync(copy, text);
  // Relative paths resolve against the example's own folder: bring its files (htpasswd, a
  // password file) and its sample secrets along.
  for (const entry of readdirSync(dirname(source), { withFileTypes: true })) {
    const target = join(root, 'config', entry.name);
    if (entry.isFile() && !existsSync(target)) copyFileSync(join(dirname(source), entry.name), target);
  }
  const samples = join(dirname(source), 'secrets');
  if (existsSync(samples)) cpSync(samples, join(root, 'config', 'secrets'), { recursive: true });
  return copy;
}

describe('example regauth configs', () => {
  test('the glob finds the examples', () => {
    expect(regauthConfigs).toEqual(
      expect.arrayContaining([
        'examples/static-users.yml',
        'examples/docker-auth-migration.yml',
        'compose/regauth/config.yml',
      ]),
    );
    expect(regauthConfigs).not.toContain('examples/registry/config.yml');
  });

  test.each(regauthConfigs)('%s loads with the config loader', (example) => {
    // As `regauth serve` does: a config naming no key (or no refresh secret) gets a development one.
    const config = loadConfigFile(materialize(example), {
      devKey: { keyPath: signing.keyPath, certificatePath: signing.certPath },
      devRefreshSecret: () => ensureRefreshSecret(join(tmp.dir, 'refresh.key')).path,
    });
    expect(config.token.issuer).not.toBe('');
    expect(config.acl).toBeDefined();
  });
});

/** `auth.token` of a registry config. */
function registryAuth(file: string): {
  realm: string;
  service: string;
  issuer: string;
  rootcertbundle: string;
} {
  const doc = parseYaml(readFileSync(join(REPO_ROOT, file), 'utf8')) as {
    auth: { token: { realm: string; service: string; issuer: string; rootcertbundle: string } };
  };
  return doc.auth.token;
}

describe.each([
  ['compose/registry/config.yml', 'compose/regauth/config.yml'],
  ['examples/registry/config.yml', 'examples/static-users.yml'],
])('%s trusts %s', (registryFile, regauthFile) => {
  test('issuer, service and rootcertbundle agree', () => {
    const auth = registryAuth(registryFile);
    const raw = parseYaml(readFileSync(join(REPO_ROOT, regauthFile), 'utf8')) as {
      token: { issuer: string; key: string; certificate: string; services?: string[] };
    };
    expect(auth.issuer).toBe(raw.token.issuer);
    // The bundle `regauth keys init --publish DIR` copies to the registry's own directory
    // (current and next certificates after `keys rotate`, new and previous after `keys
    // activate`), the directory the file's comment names: never the key directory, which holds
    // the private key.
    const publish = /--publish ([\w/.-]+)/.exec(readFileSync(join(REPO_ROOT, registryFile), 'utf8'))?.[1];
    expect(publish).toBeDefined();
    expect(auth.rootcertbundle).toBe(posix.join(publish!, 'bundle.pem'));
    expect(posix.dirname(auth.rootcertbundle)).not.toBe(posix.dirname(raw.token.key));
    expect(raw.token.services ?? [auth.service]).toContain(auth.service);
    // HAProxy (examples/haproxy.cfg) routes /auth to regauth.
    expect(new URL(auth.realm).pathname).toBe('/auth');
  });
});

describe('the example registry config runs in docker-registry', () => {
  test('GET /v2/ answers with the Bearer challenge the file describes', async () => {
    const file = 'examples/registry/config.yml';
    const registry = await startRegistryFromFile({
      configPath: join(REPO_ROOT, file),
      realm: 'http://127.0.0.1:1/auth',
      rootCertBundlePath: signing.certPath,
    });
    try {
      const res = await fetch(`${registry.url}/v2/`);
      expect(res.status).toBe(401);
      const { scheme, params } = parseChallenge(res.headers.get('www-authenticate') ?? '');
      expect(scheme).toBe('Bearer');
      expect(params).toMatchObject({ realm: 'http://127.0.0.1:1/auth', service: registryAuth(file).service });
    } finally {
      await registry.stop();
    }
  });
});

describe('example HAProxy configs pass `haproxy -c`', () => {
  const cfgs = readdirSync(join(REPO_ROOT, 'examples')).filter((f) => f.endsWith('.cfg'));

  test('there is one', () => {
    expect(cfgs).toContain('haproxy.cfg');
  });

  test.each(cfgs.flatMap((cfg) => [[cfg, 'plain HTTP'] as const, [cfg, 'TLS'] as const]))(
    '%s with %s, without warnings',
    async (cfg, mode) => {
      const env: Record<string, string> = {
        REGISTRY_ADDR: '127.0.0.1:5000',
        REGAUTH_ADDR: '127.0.0.1:5001',
        HAPROXY_BIND: '127.0.0.1:8443',
      };
      if (mode === 'TLS') {
        const { certPath, keyPath } = await selfSignedCert(tmp.dir, `tls-${cfg}`, '/CN=localhost');
        const pem = join(tmp.dir, `tls-${cfg}.pem`);
        writeFileSync(pem, readFileSync(certPath, 'utf8') + readFileSync(keyPath, 'utf8'));
        env['HAPROXY_TLS_CERT'] = pem;
      }
      const result = await runCommand('haproxy', ['-c', '-f', join(REPO_ROOT, 'examples', cfg)], {
        env,
        timeoutMs: 30_000,
      });
      expect(result.stderr + result.stdout).not.toMatch(/WARNING|ALERT/);
      expect(result.stdout).toContain('Configuration file is valid');
      expect(result.code).toBe(0);
    },
  );

  test('a broken address is refused', async () => {
    const result = await runCommand('haproxy', ['-c', '-f', join(REPO_ROOT, 'examples', 'haproxy.cfg')], {
      env: { REGISTRY_ADDR: '127.0.0.1:5000', REGAUTH_ADDR: '127.0.0.1:99999' },
      timeoutMs: 30_000,
    });
    expect(result.code).not.toBe(0);
  });
});

describe('compose/compose.yml passes `docker-compose config`', () => {
  interface Compose {
    services: Record<
      string,
      {
        image?: string;
        profiles?: string[];
        command?: string[];
        entrypoint?: string[];
        environment?: Record<string, string>;
        volumes?: ({ source?: string; target: string } | string)[];
        networks?: Record<string, { ipv4_address?: string } | null>;
      }
    >;
    networks?: Record<
      string,
      { ipam?: { config?: { subnet?: string; ip_range?: string; gateway?: string }[] } }
    >;
  }
  const composeConfig = async (...extra: string[]): Promise<Compose> => {
    const result = await runCommand(
      'docker-compose',
      [
        '--project-directory',
        join(REPO_ROOT, 'compose'),
        '-f',
        join(REPO_ROOT, 'compose/compose.yml'),
        ...extra,
        'config',
      ],
      { timeoutMs: 60_000, env: { REGAUTH_CONFIG: undefined } },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return parseYaml(result.stdout) as Compose;
  };

  test('the default services; the token key for regauth alone, its public files for the registry', async () => {
    const compose = await composeConfig();
    // docker-compose 1.x lists profiled services too; `profiles` tells them apart.
    const byDefault = Object.entries(compose.services)
      .filter(([, service]) => service.profiles === undefined)
      .map(([name]) => name);
    expect(byDefault.sort()).toEqual(['haproxy', 'keys', 'redis', 'regauth', 'registry', 'tls']);
    const mountsOf = (service: string) =>
      (compose.services[service]?.volumes ?? []).map((v) =>
        typeof v === 'string' ? v : `${v.source}:${v.target}`,
      );
    for (const service of ['keys', 'regauth']) {
      expect(mountsOf(service)).toEqual(expect.arrayContaining([expect.stringMatching(/^keys:\/keys/)]));
    }
    for (const service of ['keys', 'registry']) {
      expect(mountsOf(service)).toEqual(expect.arrayContaining([expect.stringMatching(/^trust:\/trust/)]));
    }
    expect(mountsOf('registry').filter((m) => m.startsWith('keys:'))).toEqual([]);
    expect(compose.services['regauth']?.command).toEqual(['serve', '-c', '/config/config.yml']);
    expect(compose.services['haproxy']?.environment).toMatchObject({
      REGISTRY_ADDR: 'registry:5000',
      REGAUTH_ADDR: 'regauth:5001',
    });
    expect(compose.services['keys']?.command?.join(' ')).toContain(
      'test -f /keys/token.key || regauth keys init --dir /keys --publish /trust',
    );
  });

  test("HAProxy's fixed address lies outside the range Docker hands out, however many replicas run", async () => {
    // Found by a review: Docker gave out addresses from .2 up across the whole subnet, so with
    // `--scale regauth=7` a container created before HAProxy took .10 and HAProxy could not start
    // ("Address already in use"); a container other than HAProxy then held the one address
    // regauth trusts for X-Forwarded-For.
    const compose = await composeConfig();
    const fixed = compose.services['haproxy']?.networks?.['default']?.ipv4_address;
    const [ipam] = compose.networks?.['default']?.ipam?.config ?? [];
    expect(fixed).toBe('172.28.57.10');
    expect(ipam).toEqual({ subnet: '172.28.57.0/24', ip_range: '172.28.57.128/25', gateway: '172.28.57.1' });
    // The dynamic range holds 127 addresses: past `server-template regauth 10` and the rest.
    expect(parseIpMatcher(ipam!.ip_range!).contains(fixed!)).toBe(false);
    expect(parseIpMatcher(ipam!.subnet!).contains(fixed!)).toBe(true);
  });

  test('the keys one-shot publishes the trust files of a keys volume that has none (an early one)', async () => {
    // Found by a review: a keys volume from before `keys init` wrote bundle.pem held token.key,
    // token.pem and jwks.json only; the one-shot copied /keys/bundle.pem to the trust volume,
    // `cp` failed, and with `set -e` every service depending on it stayed down. docs/deployment.md
    // promises such a volume gets its trust files on the next start.
    const compose = await composeConfig();
    const script = compose.services['keys']?.command?.join(' ') ?? '';
    // The script as compose runs it, here: regauth from dist/, the volumes temp directories, as
    // the user running the tests (no chown).
    const dir = join(tmp.dir, 'keys-oneshot');
    const cli = `${process.execPath} ${join(REPO_ROOT, 'dist/cli/main.js')}`;
    const local = script
      .replace(/\bregauth /g, `${cli} `)
      .replace(/\/keys\b/g, join(dir, 'keys'))
      .replace(/\/trust\b/g, join(dir, 'trust'))
      .replace(/chown -R node:node [^;]*/, 'true');
    expect(local).not.toMatch(/ \/(keys|trust)\b/);
    const init = await runCommand(
      process.execPath,
      [join(REPO_ROOT, 'dist/cli/main.js'), 'keys', 'init', '--dir', join(dir, 'keys')],
      {
        timeoutMs: 30_000,
      },
    );
    expect(init.code, init.stderr).toBe(0);
    // The early volume: no bundle.pem; and an empty trust volume.
    rmSync(join(dir, 'keys/bundle.pem'));
    mkdirSync(join(dir, 'trust'));
    const result = await runCommand('sh', ['-c', local], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(dir, 'trust/bundle.pem'), 'utf8')).toContain(
      readFileSync(join(dir, 'keys/token.pem'), 'utf8').trim(),
    );
    expect(existsSync(join(dir, 'trust/jwks.json'))).toBe(true);
  });

  test("the tls one-shot's certificate serves https://localhost through examples/haproxy.cfg", async () => {
    const compose = await composeConfig();
    const tls = compose.services['tls'];
    // A Node script run from regauth's image (its working directory /app holds the package and
    // its dependencies): nothing to download.
    expect(tls?.image).toBe(compose.services['regauth']?.image);
    expect(tls?.entrypoint).toEqual(['node', '--input-type=module', '-e']);
    const script = tls?.command?.join(' ') ?? '';
    expect(script).toContain("if (existsSync('/tls/localhost.pem')) process.exit(0);");
    // The script as compose runs it, here: from the repository (which has the same
    // dependencies as /app), with the volume a temp directory.
    const dir = join(tmp.dir, 'tls-oneshot');
    mkdirSync(join(dir, 'tls'), { recursive: true });
    const local = script.replace(/(?<=')\/tls\//g, `${dir}/tls/`);
    expect(local).not.toContain("'/tls/");
    for (const round of ['creates', 'keeps']) {
      const before = existsSync(join(dir, 'tls/localhost.pem'))
        ? readFileSync(join(dir, 'tls/localhost.pem'))
        : null;
      const result = await runCommand('node', ['--input-type=module', '-e', local], {
        cwd: REPO_ROOT,
        timeoutMs: 30_000,
      });
      expect(result.code, `${round}: ${result.stderr}`).toBe(0);
      if (before) expect(readFileSync(join(dir, 'tls/localhost.pem')).equals(before), round).toBe(true);
    }
    const haproxy = await startHaproxy({
      configPath: join(REPO_ROOT, 'examples/haproxy.cfg'),
      env: { REGISTRY_ADDR: '127.0.0.1:1', REGAUTH_ADDR: '127.0.0.1:1' },
      tlsCert: join(dir, 'tls/localhost.pem'),
    });
    try {
      // Verified against the generated certificate, for the name `localhost`.
      const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: haproxy.port,
            path: '/nothing-here',
            servername: 'localhost',
            ca: readFileSync(join(dir, 'tls/localhost.crt')),
          },
          (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(reply.status).toBe(404);
      expect(JSON.parse(reply.body)).toEqual({
        errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }],
      });
    } finally {
      await haproxy.stop();
    }
  });

  test('the ldap profile adds OpenLDAP, built from compose/ldap', async () => {
    const compose = (await composeConfig('--profile', 'ldap')) as Compose & {
      services: Record<string, { build?: { context: string } }>;
    };
    expect(compose.services['ldap']?.profiles).toEqual(['ldap']);
    expect(compose.services['ldap']?.build?.context).toBe(join(REPO_ROOT, 'compose/ldap'));
  });
});
