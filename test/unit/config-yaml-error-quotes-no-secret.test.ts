import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { regauth } from '../helpers/cli.js';
import { useConfigText } from '../helpers/config.js';
import { writeFileSync } from 'node:fs';

// Found by a review of where secrets go. docs/security.md: "A config error about a secret's file
// (`password_file`, `bind_password_file`, `secret_file`, `client_secret_file`) ... do[es] not
// repeat its path: a secret pasted where the path belongs would otherwise be printed."
//
// A pasted secret that starts with `!` or `*` (both common in generated passwords) is read by YAML
// as a tag or an alias. The load then fails with a YAML syntax error, and src/config/yaml.ts
// (`YAML syntax error: ${err.reason}`) copies js-yaml's reason, which quotes the tag or the alias
// name: `unknown tag !<!Secret…>`, `unidentified alias "Secret…"`. The secret reaches the CLI's
// stderr and, on a reload, `regauth serve`'s log.

const configs = useConfigText('regauth-review-yaml-tag-');

/** A secret of the kind a password generator makes, in letters and digits after its first character. */
const secretBody = () => `S3c${randomBytes(18).toString('hex')}`;

function messagesOf(yaml: string): string[] {
  try {
    loadConfigText(yaml, { file: join(configs.dir, 'config.yml') });
  } catch (err) {
    if (err instanceof ConfigErrors) return [err.message, ...err.errors.map((e) => e.message)];
    throw err;
  }
  throw new Error('config loaded without error');
}

const sections: [string, (written: string) => string][] = [
  ['token.refresh.secret_file', (w) => `  refresh:\n    secret_file: ${w}\n`],
  [
    'ldap_auth.bind_password_file',
    (w) =>
      `users: {}\nldap_auth:\n  addr: "ldap.example.org:389"\n  bind_dn: "cn=svc,dc=example,dc=org"\n  bind_password_file: ${w}\n  base: "dc=example,dc=org"\n  filter: "(uid=\${account})"\n`,
  ],
  [
    'store.password_file',
    (w) =>
      `users: {}\nstore:\n  type: redis\n  url: redis://redis/0\n  username: regauth\n  password_file: ${w}\n`,
  ],
];

test.each(sections.flatMap(([key, section]) => [[key, '!', section] as const, [key, '*', section] as const]))(
  '%s: a secret pasted as `%s…` is not repeated by the YAML syntax error',
  (_key, first, section) => {
    const body = secretBody();
    const messages = messagesOf(`${configs.head}${section(`${first}${body}`)}`);
    // The load is refused (as it should be) ...
    expect(messages.join('\n')).toMatch(/YAML syntax error/);
    // ... without the secret.
    for (const m of messages) expect(m).not.toContain(body);
  },
);

test('regauth validate: the secret pasted after bind_password_file is not on stderr', async () => {
  const body = secretBody();
  const file = join(configs.dir, 'tagged.yml');
  writeFileSync(file, `${configs.head}${sections[1]![1](`!${body}`)}`);
  const run = await regauth(['validate', '-c', file]);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/YAML syntax error/);
  expect(run.stdout + run.stderr).not.toContain(body);
});

test('users: a password pasted in place of its hash as `!…` is not repeated by the YAML syntax error', () => {
  const body = secretBody();
  const messages = messagesOf(`${configs.head}users:\n  alice:\n    password: !${body}\nacl: []\n`);
  expect(messages.join('\n')).toMatch(/YAML syntax error/);
  for (const m of messages) expect(m).not.toContain(body);
});

test("regauth doctor: the registry config's http.secret written as `!…` is not printed", async () => {
  // Go's yaml.v2 reads an unknown local tag without an error (the registry starts); regauth's
  // reading of the same file fails and quotes the tag, the registry's secret, on stderr.
  const body = secretBody();
  const config = join(configs.dir, 'regauth.yml');
  writeFileSync(config, `${configs.head}users: {}\nacl: []\n`);
  const registry = join(configs.dir, 'registry.yml');
  writeFileSync(
    registry,
    `version: 0.1\nhttp:\n  addr: :5000\n  secret: !${body}\nauth:\n  token:\n    realm: http://127.0.0.1:5001/auth\n    service: registry\n    issuer: x\n    rootcertbundle: ${configs.certPath}\n`,
  );
  const run = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  expect(run.stderr).toMatch(/YAML syntax error/);
  expect(run.stdout + run.stderr).not.toContain(body);
});

test.each([
  ['a tag with a character no tag holds', (b: string) => `!${b}>x`],
  ['a tag handle never declared', (b: string) => `!${b}!x y`],
  ['a verbatim tag', (b: string) => `!<${b}> x`],
])('users: %s is refused without repeating what it quotes', (_what, written) => {
  const body = secretBody();
  const messages = messagesOf(`${configs.head}users:\n  alice:\n    password: ${written(body)}\nacl: []\n`);
  expect(messages.join('\n')).toMatch(/line \d+: YAML syntax error: \w/);
  for (const m of messages) expect(m).not.toContain(body);
});
