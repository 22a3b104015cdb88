import { afterAll, beforeAll, expect, test } from 'vitest';
import type { RunningServer } from '../../src/http/server.js';
import { hash, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

// A token form in another charset was decoded by that charset's decoder, which reads bytes it has
// no character for as U+FFFD, or drops them (UTF-16's odd last byte, UTF-7's stray `+`): `p\xFF`,
// `p\x80` and `p\uFFFD` were one password, the collision the UTF-8 check closes. Three reviews
// found a way through each check of those decoders' output. The form is application/x-www-form-
// urlencoded, which is UTF-8 (WHATWG URL), and no registry client sends another charset: only
// UTF-8 is read.
const tmp = tempDir();
let server: RunningServer;
beforeAll(async () => {
  const started = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `server:\n  addr: "127.0.0.1:0"\ntoken:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\nusers:\n  alice:\n    password: "${hash('p\uFFFD')}"\n  bob:\n    password: "${hash('pé')}"\nacl: []\n`,
  });
  server = started.server;
});
afterAll(async () => {
  await server.close(100);
  tmp.cleanup();
});

const post = (charset: string | undefined, body: Buffer) =>
  fetch(`${server.url}/auth`, {
    method: 'POST',
    headers: {
      'content-type': `application/x-www-form-urlencoded${charset === undefined ? '' : `; charset=${charset}`}`,
    },
    body,
  });
const HEAD = 'grant_type=password&service=reg&username=';
const bob = `${HEAD}bob&password=pé`;
const utf32 = (text: string) => Buffer.concat([...text].map((c) => Buffer.from([c.charCodeAt(0), 0, 0, 0])));

test.each([
  ['utf8', [0xff]],
  ['utf8', [0xfe]],
  ['UTF_8', [0xc0]],
  ['utf-8', [0x80]],
] as const)('a form in charset=%s whose password ends in the bytes %j is refused', async (charset, bytes) => {
  const res = await post(
    charset,
    Buffer.concat([Buffer.from(`${HEAD}alice&password=p`), Buffer.from(bytes)]),
  );
  expect([res.status, ((await res.json()) as { error_description?: string }).error_description]).toEqual([
    400,
    'the form is not UTF-8',
  ]);
});

test.each([
  ['us-ascii', Buffer.concat([Buffer.from(`${HEAD}alice&password=p`), Buffer.from([0x80])])],
  ['shift_jis', Buffer.concat([Buffer.from(`${HEAD}alice&password=p`), Buffer.from([0xa0])])],
  ['big5', Buffer.concat([Buffer.from(`${HEAD}alice&password=p`), Buffer.from([0x80])])],
  ['utf-32le', Buffer.concat([utf32(`${HEAD}alice&password=p`), Buffer.from([0x00, 0x00, 0x11, 0x00])])],
  ['utf-16le', Buffer.concat([Buffer.from(bob, 'utf16le'), Buffer.from([0x41])])],
  ['utf-16le', Buffer.from(bob, 'utf16le')],
  ['utf-16', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(bob, 'utf16le')])],
  ['utf-7', Buffer.from(`${HEAD}bob&password=p+AOl-`)],
  ['utf-7', Buffer.from(`${HEAD}bob&password=p+AOk-`)],
  ['iso-8859-1', Buffer.from(bob, 'latin1')],
] as const)('a form in charset=%s is refused, whatever its bytes (%#)', async (charset, body) => {
  const res = await post(charset, body);
  expect([res.status, ((await res.json()) as { error_description?: string }).error_description]).toEqual([
    400,
    `the form must be UTF-8, not ${charset.toLowerCase()}`,
  ]);
});

test.each([undefined, 'utf-8', 'UTF-8', 'utf8'])('a UTF-8 form (charset=%s) is read', async (charset) => {
  expect((await post(charset, Buffer.from(bob))).status).toBe(200);
});
