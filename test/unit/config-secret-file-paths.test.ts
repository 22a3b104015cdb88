import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { regauth } from '../helpers/cli.js';
import { useConfigText } from '../helpers/config.js';

// Found by the secrets review: a secret pasted where its file's path belongs (`bind_password_file:
// s3cret` for docker_auth's `bind_password: s3cret`) was echoed in the error as the path, and so
// reached the log of every failed load. The path of a secret's file is never repeated.

const configs = useConfigText('regauth-secret-path-');

/** A secret of the kind an operator would paste: base64, with its `/` and `+`. */
const pasted = () => `${randomBytes(30).toString('base64')}/+x`;

function messagesOf(yaml: string): string[] {
  try {
    loadConfigText(yaml, { file: join(configs.dir, 'config.yml') });
  } catch (err) {
    if (err instanceof ConfigErrors) return [err.message, ...err.errors.map((e) => e.message)];
    throw err;
  }
  throw new Error('config loaded without error');
}

test.each([
  ['token.refresh.secret_file', (s: string) => `  refresh: {secret_file: "${s}"}\n`],
  [
    'ldap_auth.bind_password_file',
    (s: string) =>
      `ldap_auth:\n  addr: "ldap.example.org:389"\n  bind_dn: "cn=svc,dc=example,dc=org"\n  bind_password_file: "${s}"\n  base: "dc=example,dc=org"\n  filter: "(uid=\${account})"\n`,
  ],
  [
    'oidc_auth.client_secret_file',
    (s: string) =>
      `oidc_auth:\n  issuer: https://idp.example\n  client_id: regauth\n  client_secret_file: "${s}"\n  redirect_url: https://auth.example/oidc/callback\n  registry_url: reg\n  secret_file: "${s}"\n`,
  ],
  [
    'store.password_file',
    (s: string) =>
      `store:\n  type: redis\n  url: redis://redis/0\n  username: regauth\n  password_file: "${s}"\n`,
  ],
])('%s naming no file: the error does not repeat what was written', (key, section) => {
  const secret = pasted();
  // The refresh section goes under token:, the others after a users section.
  const yaml = `${configs.head}${key.startsWith('token.') ? '' : 'users: {}\n'}${section(secret)}`;
  const messages = messagesOf(yaml);
  const mine = messages.filter((m) => m.startsWith(`${key}:`));
  expect(mine).toEqual([
    `${key}: cannot read the file it names (ENOENT); it must name a file that holds the secret, not the secret itself`,
  ]);
  for (const m of messages) {
    expect(m).not.toContain(secret);
    expect(m).not.toContain(secret.slice(0, 12));
  }
});

// Found by a review of the change above: a private key pasted where its file's path belongs was
// still echoed, as the path and in the advice naming its directory.
test.each(['token.key', 'server.key'])('%s naming no file: the error does not repeat it', (key) => {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  const yaml =
    key === 'token.key'
      ? configs.head.replace(/ {2}key: .*\n/, `  key: ${JSON.stringify(pem)}\n`)
      : `${configs.head}server:\n  addr: "127.0.0.1:0"\n  certificate: ${configs.certPath}\n  key: ${JSON.stringify(pem)}\n`;
  const messages = messagesOf(`${yaml}users: {}\n`);
  expect(messages.filter((m) => m.startsWith(`${key}:`))).toEqual([
    expect.stringMatching(
      new RegExp(
        `^${key.replace('.', '\\.')}: cannot read the file it names \\(ENOENT\\); it must name a file that holds the private key, not the key itself`,
      ),
    ),
  ]);
  const body = pem.split('\n')[1]!;
  for (const m of messages) {
    for (const piece of body.split('/')) if (piece.length >= 8) expect(m).not.toContain(piece);
  }
});

test('regauth validate: a secret_file that does not exist here is noted without its path', async () => {
  const secret = pasted();
  const file = join(configs.dir, 'validate.yml');
  writeFileSync(file, `${configs.head}  refresh: {secret_file: "${secret}"}\nusers: {}\nacl: []\n`);
  const run = await regauth(['validate', '-c', file]);
  expect(run.stderr).toContain('token.refresh.secret_file names a file that does not exist here');
  for (const piece of secret.split('/'))
    if (piece.length >= 8) expect(run.stderr + run.stdout).not.toContain(piece);
});

// Found by the same review: secret files were read as UTF-8 regardless, so each byte of a binary
// secret (`head -c 48 /dev/urandom`) that is not UTF-8 read as U+FFFD: two different files gave
// one secret, and most of its entropy was gone.
test.each([
  ['token.refresh.secret_file', (f: string) => `  refresh: {secret_file: "${f}"}\n`],
  [
    'ldap_auth.bind_password_file',
    (f: string) =>
      `ldap_auth:\n  addr: "ldap.example.org:389"\n  bind_dn: "cn=svc,dc=example,dc=org"\n  bind_password_file: "${f}"\n  base: "dc=example,dc=org"\n  filter: "(uid=\${account})"\n`,
  ],
])('%s holding bytes that are not UTF-8 is refused', (key, section) => {
  const file = join(configs.dir, `binary-${key}.key`);
  writeFileSync(file, Buffer.concat([Buffer.from('x'.repeat(8)), Buffer.alloc(40, 0x80)]));
  const yaml = `${configs.head}${key.startsWith('token.') ? '' : 'users: {}\n'}${section(file)}`;
  expect(messagesOf(yaml).filter((m) => m.startsWith(`${key}:`))).toEqual([
    `${key}: holds bytes that are not UTF-8 text, each of which would read as U+FFFD (the secret would lose them); write the secret as text (\`openssl rand -base64 48\` makes one)`,
  ]);
});

// Found by the second review: a key pasted as one line of base64 (a Kubernetes secret's data
// value) holds neither "-----BEGIN" nor a newline, and was printed whole.
test('token.key holding a base64 key in place of its path: not printed', () => {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  const b64 = Buffer.from(pem).toString('base64');
  const messages = messagesOf(`${configs.head.replace(/ {2}key: .*\n/, `  key: ${b64}\n`)}users: {}\n`);
  expect(messages.filter((m) => m.startsWith('token.key:'))).toHaveLength(1);
  for (const m of messages) {
    for (const piece of b64.split('/')) if (piece.length >= 8) expect(m).not.toContain(piece);
  }
});

// Found by the third review: a length bound cannot tell keys from paths. A P-256 key in PKCS#8
// without its public key (Java's getEncoded(), `openssl ec -no_public`) is 92 base64 characters,
// and was printed; a real path over 150 characters was hidden, and described as PEM text.
test.each([
  ['PKCS#8 without the public key', () => derKey().toString('base64')],
  ['the same, as hex', () => derKey().toString('hex')],
])('token.key holding a key (%s) in place of its path: not printed', (_what, written) => {
  const value = written();
  const messages = messagesOf(`${configs.head.replace(/ {2}key: .*\n/, `  key: ${value}\n`)}users: {}\n`);
  expect(messages.filter((m) => m.startsWith('token.key:'))).toHaveLength(1);
  for (const m of messages) {
    for (const piece of value.split('/')) if (piece.length >= 8) expect(m).not.toContain(piece.slice(0, 16));
  }
});

test('token.key naming a long real path that is missing: printed, with its advice', () => {
  const dir = `/home/runner/work/${'platform-infrastructure-deployments/'.repeat(4)}keys`;
  const messages = messagesOf(
    `${configs.head.replace(/ {2}key: .*\n/, `  key: ${dir}/token.key\n`)}users: {}\n`,
  );
  expect(messages.filter((m) => m.startsWith('token.key:'))).toEqual([
    `token.key: cannot read ${dir}/token.key: ENOENT; create it with \`regauth keys init --dir ${dir}\` (it writes token.key and token.pem there)`,
  ]);
});

/** A P-256 private key in PKCS#8 DER without its optional public key: 67 bytes. */
function derKey(): Buffer {
  return Buffer.concat([
    Buffer.from('3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420', 'hex'),
    randomBytes(32),
  ]);
}

test('regauth validate: a key written in place of token.key is noted without it', async () => {
  const value = derKey().toString('base64');
  const file = join(configs.dir, 'validate-key.yml');
  // With the certificate missing too, the tools check the rest with a stand-in key, and say so.
  writeFileSync(file, `token: {issuer: x, key: ${value}, certificate: absent.pem}\nusers: {}\nacl: []\n`);
  const run = await regauth(['validate', '-c', file]);
  expect(run.stderr).toContain('token.key names no file here (what it holds reads as a key, not a path');
  for (const piece of value.split('/'))
    if (piece.length >= 8) expect(run.stderr + run.stdout).not.toContain(piece);
});

// Found by the fourth review: `base64 token.key` (wrapped at 76) pasted as a plain multi-line
// value reads, joined by YAML, as words of base64 with spaces, and was printed; and a real path
// of 40 or more characters without a dot (a secret mount) was hidden and called a key.
test('token.key holding wrapped base64 of a key, pasted over several lines: not printed', () => {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  const lines = Buffer.from(pem)
    .toString('base64')
    .match(/.{1,76}/g)!;
  const messages = messagesOf(
    `${configs.head.replace(/ {2}key: .*\n/, `  key: ${lines.join('\n    ')}\n`)}users: {}\n`,
  );
  expect(messages.filter((m) => m.startsWith('token.key:'))).toHaveLength(1);
  for (const m of messages) for (const line of lines) expect(m).not.toContain(line.slice(0, 24));
});

test('token.key naming a missing file at a mount without a dot: printed', () => {
  const path = '/vault/secrets/regauth-token-signing-key';
  const messages = messagesOf(`${configs.head.replace(/ {2}key: .*\n/, `  key: ${path}\n`)}users: {}\n`);
  expect(messages.filter((m) => m.startsWith('token.key:'))).toEqual([
    `token.key: cannot read ${path}: ENOENT; create it with \`regauth keys init --dir /vault/secrets\` (it writes token.key and token.pem there)`,
  ]);
});
