import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { randomPassword, tempDir } from '../helpers/fixtures.js';

/**
 * The package's public API (src/index.ts, package.json `main`/`exports`), imported by its name
 * the way an embedder would: a separate node process, `import('regauth')`, resolved through the
 * package's own exports to the built dist/.
 */
const ROOT = resolve(import.meta.dirname, '../..');
let tmp: ReturnType<typeof tempDir>;

beforeAll(() => {
  ensureBuilt();
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

/** Runs an ES module script with the repository as the importing package; returns its stdout. */
function node(script: string, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
}

describe("import('regauth')", () => {
  test('package.json names files the build writes', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      name: string;
      main: string;
      types: string;
      exports: Record<string, { types: string; default: string }>;
    };
    expect(pkg.name).toBe('regauth');
    const entry = pkg.exports['.'];
    expect(entry).toEqual({ types: `./${pkg.types}`, default: `./${pkg.main}` });
    for (const file of [pkg.main, pkg.types]) expect(() => readFileSync(join(ROOT, file))).not.toThrow();
  });

  test('exports the embedder API and nothing of Express or commander', () => {
    const names = JSON.parse(
      node("const m = await import('regauth'); console.log(JSON.stringify(Object.keys(m)));"),
    ) as string[];
    expect(names).toEqual(
      expect.arrayContaining([
        'loadConfigFile',
        'loadConfigText',
        'startService',
        'createRuntime',
        'closeRuntime',
        'parseTokenRequest',
        'issueToken',
        'lintConfig',
        'checkAccess',
        'runPolicyTests',
        'hashPassword',
        'keysInit',
        'Secret',
        'RegauthError',
        'ConfigErrors',
      ]),
    );
    expect(names.filter((n) => /express|command/i.test(n))).toEqual([]);
  });

  test('loads a config, issues a token without HTTP, and refuses a bad config with its YAML path', () => {
    const password = randomPassword();
    const script = `
      import { closeRuntime, ConfigErrors, createRuntime, hashPassword, issueToken, keysInit, loadConfigText,
        parseTokenRequest, Secret } from 'regauth';
      const dir = process.env.KEY_DIR;
      const keys = await keysInit(dir);
      const hash = await hashPassword(new Secret(process.env.PASSWORD), 4);
      const config = loadConfigText([
        'token: {issuer: embedder, key: ' + keys.key + ', certificate: ' + keys.certificate + '}',
        'users: {alice: {password: "' + hash + '"}}',
        'acl: [{match: {account: alice, name: "alice/*"}, actions: [pull, push]}]',
      ].join('\\n'));
      const runtime = createRuntime(config);
      const request = parseTokenRequest({
        method: 'GET',
        query: 'service=registry&scope=repository:alice/app:push,pull&scope=repository:bob/app:pull',
        authorization: 'Basic ' + Buffer.from('alice:' + process.env.PASSWORD).toString('base64'),
      });
      const result = await issueToken(runtime, request, { ip: '127.0.0.1', now: Math.floor(Date.now() / 1000) });
      await closeRuntime(runtime);
      const claims = JSON.parse(Buffer.from(result.token.split('.')[1], 'base64url').toString());
      let error;
      try { loadConfigText('token: {issuer: x}\\nacl: [{match: {team: a}, actions: [pull]}]'); }
      catch (err) { error = { config: err instanceof ConfigErrors, code: err.code, paths: err.errors.map((e) => e.path) }; }
      console.log(JSON.stringify({ sub: claims.sub, aud: claims.aud, access: claims.access, error }));
    `;
    const out = JSON.parse(node(script, { KEY_DIR: tmp.dir, PASSWORD: password })) as Record<string, unknown>;
    expect(out).toMatchObject({
      sub: 'alice',
      aud: 'registry',
      access: [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }],
      error: { config: true, code: 'ERR_CONFIG' },
    });
    expect((out.error as { paths: string[] }).paths).toContain('acl[0].match.team');
  });
});
