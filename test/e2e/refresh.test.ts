import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { buildOciImage } from './harness/oci.js';
import { registryChallenge } from './harness/registry.js';
import { inspect, pull, push, writeAuthFile } from './harness/skopeo.js';
import { SERVICE, startStack, type Stack, type StackConfig } from './harness/stack.js';

/**
 * Refresh ("identity") tokens end to end (issue 3; docs/refresh-tokens.md): each client's request shape
 * obtains and redeems a refresh token, and the access token it gets is used against the real
 * registry; skopeo itself redeems one from an auth.json `identitytoken`.
 */

const EXPIRATION = 3600;

type User = 'alice' | 'bob' | 'carol';

/** What the operator edits between reloads. */
interface State {
  hashes: Record<User, string>;
  withoutCarol: boolean;
  revokeBefore: Record<string, string>;
}

let stack: Stack;
const tmp = tempDir('regauth-refresh-e2e-');
const secretFile = join(tmp.dir, 'refresh.key');
const passwords: Record<User, string> = {
  alice: randomPassword(),
  bob: randomPassword(),
  carol: randomPassword(),
};
const state: State = {
  hashes: { alice: hash(passwords.alice), bob: hash(passwords.bob), carol: hash(passwords.carol) },
  withoutCarol: false,
  revokeBefore: {},
};
/** Added to the real clock of regauth, to expire refresh tokens without waiting. */
let clockOffsetMs = 0;

/** The config for the current state, after the header the stack writes. */
function refreshConfig(): StackConfig {
  const revoke = Object.entries(state.revokeBefore)
    .map(([account, at]) => `      ${JSON.stringify(account)}: "${at}"\n`)
    .join('');
  return {
    token: `  expiration: 300
  refresh:
    secret_file: ${secretFile}
    expiration: ${EXPIRATION}
${revoke ? `    revoke_before:\n${revoke}` : ''}`,
    config: `users:
  alice:
    password: "${state.hashes.alice}"
  bob:
    password: "${state.hashes.bob}"
${state.withoutCarol ? '' : `  carol:\n    password: "${state.hashes.carol}"\n`}acl:
  - match: {account: "/.+/", name: "\${account}/**"}
    actions: ["*"]
    comment: own namespace
`,
  };
}

/** Edits the config as an operator would, and reloads (SIGHUP does the same). */
async function reconfigure(edit: (s: State) => void): Promise<void> {
  edit(state);
  stack.writeConfig(refreshConfig());
  await stack.regauth.reload();
}

beforeAll(async () => {
  writeFileSync(secretFile, randomBytes(48).toString('base64'), { mode: 0o600 });
  stack = await startStack({
    name: 'refresh',
    tmp,
    ...refreshConfig(),
    serviceOptions: { now: () => Date.now() + clockOffsetMs },
  });
  // Something to list and pull in every namespace.
  for (const user of ['alice', 'bob', 'carol'] as const) {
    const image = await buildOciImage(join(tmp.dir, `img-${user}`), 'v1');
    const pushed = await push(image.ref, stack.registry.host, `${user}/app`, 'v1', {
      user,
      password: passwords[user],
    });
    expect(pushed.code, pushed.stderr).toBe(0);
  }
});

afterAll(async () => {
  await stack?.stop();
  tmp.cleanup();
});

const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

/** `docker login`: GET with offline_token=true and no scope (dockerd's daemon/pkg/registry/auth.go). */
async function dockerLogin(user: User, password = passwords[user]): Promise<string> {
  const res = await fetch(
    `${stack.regauth.url}/auth?account=${user}&client_id=docker&offline_token=true&service=${SERVICE}`,
    { headers: { authorization: basic(user, password) } },
  );
  expect(res.status).toBe(200);
  const body = (await res.json()) as { access_token: string; refresh_token?: string };
  // docker's step 3: the login token must open /v2/.
  const ping = await fetch(`${stack.registry.url}/v2/`, {
    headers: { authorization: `Bearer ${body.access_token}` },
  });
  expect(ping.status).toBe(200);
  expect(body.refresh_token).toEqual(expect.any(String));
  return body.refresh_token!;
}

/** POST grant_type=refresh_token; `scope` is one space-joined field unless several are given. */
function refresh(
  refreshToken: string,
  opts: { clientId?: string; scopes?: string[]; service?: string; repeatScopes?: boolean } = {},
): Promise<Response> {
  const form = new URLSearchParams({
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    service: opts.service ?? SERVICE,
    client_id: opts.clientId ?? 'docker',
  });
  const scopes = opts.scopes ?? [];
  if (opts.repeatScopes) for (const s of scopes) form.append('scope', s);
  else if (scopes.length > 0) form.set('scope', scopes.join(' '));
  return fetch(`${stack.regauth.url}/auth/token`, { method: 'POST', headers: FORM, body: form.toString() });
}

/** The registry request that closes each flow: list the tags with the access token. */
async function listTags(accessToken: string, repo: string): Promise<{ status: number; tags?: string[] }> {
  const res = await fetch(`${stack.registry.url}/v2/${repo}/tags/list`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    return { status: res.status };
  }
  return { status: 200, tags: ((await res.json()) as { tags: string[] }).tags };
}

async function expectInvalidGrant(res: Response): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
}

describe('each client shape obtains a refresh token and redeems it', () => {
  test('docker: GET offline_token=true, then POST refresh with client_id=docker', async () => {
    const refreshToken = await dockerLogin('alice');
    const res = await refresh(refreshToken, {
      clientId: 'docker',
      scopes: ['repository:alice/app:pull', 'repository:alice/app:push'],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    // Never rotated: docker stores one identity token for months.
    expect(body['refresh_token']).toBe(refreshToken);
    expect(body['scope']).toBe('repository:alice/app:pull,push');
    expect(await listTags(body['access_token'] as string, 'alice/app')).toEqual({
      status: 200,
      tags: ['v1'],
    });
  });

  // buildkit runs containerd's fetch code (core/remotes/docker/auth/fetch.go) with its own
  // client_id.
  test.each(['containerd-client', 'buildkit-client'])(
    '%s: POST password with access_type=offline, then POST refresh without a username',
    async (clientId) => {
      const login = await fetch(`${stack.regauth.url}/auth/token`, {
        method: 'POST',
        headers: FORM,
        body: new URLSearchParams({
          grant_type: 'password',
          username: 'bob',
          password: passwords.bob,
          client_id: clientId,
          access_type: 'offline',
          service: SERVICE,
          scope: 'repository:bob/app:pull',
        }).toString(),
      });
      expect(login.status).toBe(200);
      const { refresh_token: refreshToken } = (await login.json()) as { refresh_token: string };
      expect(refreshToken).toEqual(expect.any(String));
      const res = await refresh(refreshToken, {
        clientId,
        scopes: ['repository:bob/app:pull'],
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { access_token: string; refresh_token: string };
      expect(body.refresh_token).toBe(refreshToken);
      expect(await listTags(body.access_token, 'bob/app')).toEqual({ status: 200, tags: ['v1'] });
    },
  );

  test('crane: POST refresh with client_id=go-containerregistry and the raw challenge scope', async () => {
    const refreshToken = await dockerLogin('alice');
    const challenge = await registryChallenge(stack.registry.url, '/v2/alice/app/tags/list');
    expect(challenge.params['scope']).toBe('repository:alice/app:pull');
    const res = await refresh(refreshToken, {
      clientId: 'go-containerregistry',
      scopes: [challenge.params['scope']!],
      service: challenge.params['service']!,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string };
    expect(await listTags(body.access_token, 'alice/app')).toEqual({ status: 200, tags: ['v1'] });
  });

  test('skopeo (containers/image) with an identitytoken in auth.json pushes and pulls', async () => {
    const refreshToken = await dockerLogin('alice');
    const authFile = join(tmp.dir, 'auth-alice.json');
    await writeAuthFile(authFile, stack.registry.host, { user: 'alice', identityToken: refreshToken });
    const image = await buildOciImage(join(tmp.dir, 'img-skopeo'), 'v2');
    const pushed = await push(image.ref, stack.registry.host, 'alice/app', 'v2', { authFile });
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const pulled = await pull(stack.registry.host, 'alice/app', 'v2', join(tmp.dir, 'pulled'), { authFile });
    expect(pulled.code).toBe(0);
    const seen = await inspect(stack.registry.host, 'alice/app', 'v2', { authFile });
    expect(seen.digest).toBe(image.digest);
    // It was the refresh grant, with repeated scope fields' client, that served skopeo.
    const served = stack.logs.filter(
      (l) => l.includes('"clientId":"containers/image"') && l.includes('"token issued"'),
    );
    expect(served.length).toBeGreaterThan(0);
    expect(served.every((l) => l.includes('"grant":"refresh_token"'))).toBe(true);
  });

  test('repeated scope fields (containers/image shape) by hand', async () => {
    const refreshToken = await dockerLogin('alice');
    const res = await refresh(refreshToken, {
      clientId: 'containers/image',
      scopes: ['repository:alice/app:pull', 'repository:bob/app:pull'],
      repeatScopes: true,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; scope: string };
    expect(body.scope).toBe('repository:alice/app:pull');
    expect((await listTags(body.access_token, 'alice/app')).status).toBe(200);
    expect((await listTags(body.access_token, 'bob/app')).status).toBe(401);
  });

  test('the registry refuses a refresh token used as an access token', async () => {
    const refreshToken = await dockerLogin('alice');
    expect((await listTags(refreshToken, 'alice/app')).status).toBe(401);
  });
});

describe('refused refresh tokens: 401 invalid_grant', () => {
  test('tampered', async () => {
    const refreshToken = await dockerLogin('alice');
    const parts = refreshToken.split('.');
    parts[3] = (parts[3]![0] === 'A' ? 'B' : 'A') + parts[3]!.slice(1);
    await expectInvalidGrant(await refresh(parts.join('.')));
  });

  test('for another service', async () => {
    const refreshToken = await dockerLogin('alice');
    await expectInvalidGrant(await refresh(refreshToken, { service: 'other.registry.test' }));
  });

  test('expired', async () => {
    const refreshToken = await dockerLogin('alice');
    clockOffsetMs = (EXPIRATION + 1) * 1000;
    try {
      await expectInvalidGrant(await refresh(refreshToken));
    } finally {
      clockOffsetMs = 0;
    }
    expect((await refresh(refreshToken)).status).toBe(200);
  });

  test('after a password change; the new password logs in again', async () => {
    const refreshToken = await dockerLogin('bob');
    expect((await refresh(refreshToken)).status).toBe(200);
    const newPassword = randomPassword();
    await reconfigure((s) => {
      s.hashes.bob = hash(newPassword);
    });
    passwords.bob = newPassword;
    await expectInvalidGrant(await refresh(refreshToken));
    const fresh = await dockerLogin('bob');
    const res = await refresh(fresh, { scopes: ['repository:bob/app:pull'] });
    expect(res.status).toBe(200);
    expect(
      (await listTags(((await res.json()) as { access_token: string }).access_token, 'bob/app')).status,
    ).toBe(200);
  });

  test('after the account is removed', async () => {
    const refreshToken = await dockerLogin('carol');
    await reconfigure((s) => {
      s.withoutCarol = true;
    });
    await expectInvalidGrant(await refresh(refreshToken));
  });

  test('after an operator revocation (token.refresh.revoke_before), also for skopeo', async () => {
    const refreshToken = await dockerLogin('alice');
    const bobToken = await dockerLogin('bob');
    const authFile = join(tmp.dir, 'auth-revoked.json');
    await writeAuthFile(authFile, stack.registry.host, { user: 'alice', identityToken: refreshToken });
    expect((await inspect(stack.registry.host, 'alice/app', 'v1', { authFile })).code).toBe(0);

    // Every alice token issued before the next second is revoked; bob's are not.
    const at = new Date((Math.floor(Date.now() / 1000) + 1) * 1000).toISOString().replace('.000Z', 'Z');
    await reconfigure((s) => {
      s.revokeBefore = { alice: at };
    });
    await expectInvalidGrant(await refresh(refreshToken));
    const refused = await inspect(stack.registry.host, 'alice/app', 'v1', { authFile });
    expect(refused.code).not.toBe(0);
    expect((await refresh(bobToken)).status).toBe(200);
  });

  test('no refresh token, password or secret in the log', () => {
    const all = stack.logs.join('');
    expect(all).not.toMatch(/eyJ[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+/);
    for (const password of Object.values(passwords)) expect(all).not.toContain(password);
  });
});
