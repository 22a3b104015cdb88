// Found by a review: docs/deployment.md "What HAProxy logs" says examples/haproxy.cfg logs every
// request in the format of `option httplog`, only the /oidc/ query left out. Its log-format wrote
// the URI from a variable, which HAProxy writes as it is, where `option httplog` encodes `"` (and
// `#`, `{`, `|`, `}`) as `#XX`: a client's `"` in the target ended the quoted request field early,
// and a log reader splitting on quotes read fields the client wrote.
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { REPO_ROOT, startHaproxy, type Haproxy } from './harness/deploy.js';

let shipped: Haproxy;
let stock: Haproxy;
let registry: Server;
const tmp = tempDir('haproxy-log-');

beforeAll(async () => {
  // Healthy for HAProxy's checks of regauth, 404 for everything else.
  registry = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end());
  await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
  const registryAddr = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
  // One stand-in answers 404 for both backends.
  const env = { REGISTRY_ADDR: registryAddr, REGAUTH_ADDR: registryAddr };
  shipped = await startHaproxy({ configPath: join(REPO_ROOT, 'examples/haproxy.cfg'), env });
  // What `option httplog` writes, for comparison: the same listener, its stock log format.
  const stockConfig = join(tmp.dir, 'stock.cfg');
  writeFileSync(
    stockConfig,
    [
      'global',
      '    log stdout format raw local0 info',
      'defaults',
      '    mode http',
      '    log global',
      '    option httplog',
      '    timeout connect 5s',
      '    timeout client 10s',
      '    timeout server 10s',
      'frontend f',
      '    bind "${HAPROXY_BIND}"',
      '    default_backend b',
      'backend b',
      `    server r ${registryAddr}`,
      '',
    ].join('\n'),
  );
  stock = await startHaproxy({ configPath: stockConfig, env });
}, 30_000);

afterAll(async () => {
  await shipped?.stop();
  await stock?.stop();
  await new Promise((r) => registry?.close(r));
  tmp.cleanup();
});

function send(haproxy: Haproxy, target: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port: haproxy.port, host: '127.0.0.1' });
    let text = '';
    const timer = setTimeout(() => (socket.destroy(), resolve(text)), 3000);
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (text += c));
    socket.on('error', () => undefined);
    socket.on('close', () => (clearTimeout(timer), resolve(text)));
    socket.once('connect', () =>
      socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1'),
    );
  });
}

async function requestField(haproxy: Haproxy, marker: string): Promise<string> {
  for (let i = 0; i < 60; i++) {
    const line = haproxy
      .logs()
      .split('\n')
      .find((l) => l.includes(marker));
    if (line !== undefined) return line.slice(line.indexOf('"GET '));
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no log line holds ${marker}`);
}

test.each([
  ['a quote', '/v2/MARKER"x'],
  ['a quote in the query', '/v2/MARKER?q="x"'],
  ['braces and a bar', '/v2/MARKER{a|b}'],
  ['a backslash, caret, backtick and angle brackets', '/v2/MARKER\\^`<>'],
])('the request field is written as option httplog writes it: %s', async (_name, pattern) => {
  const marker = `m${Math.random().toString(36).slice(2)}`;
  const target = pattern.replace('MARKER', marker);
  const answers = [await send(shipped, target), await send(stock, target)];
  // Both took the request (neither refused it as malformed).
  for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 404 /);
  expect(await requestField(shipped, marker)).toBe(await requestField(stock, marker));
});

test('an /oidc/ request is logged by its path alone, a quote in it encoded as option httplog does', async () => {
  const marker = `m${Math.random().toString(36).slice(2)}`;
  expect(await send(shipped, `/oidc/${marker}"x?code=secret-code`)).toMatch(/^HTTP\/1\.1 404 /);
  expect(await requestField(shipped, marker)).toBe(`"GET /oidc/${marker}#22x HTTP/1.1"`);
});

// Found by a review of the fix above: `option httplog` also writes DEL and bytes past ASCII as
// #XX, and the variable wrote them raw (a control byte, or a line that is not UTF-8). No valid URL
// holds them, so the frontend refuses such a target before anything logs its URI. (HAProxy 2.6
// takes these bytes when enough of the target follows them; a 16-byte tail is taken.)
test.each([
  ['DEL (0x7f)', '/v2/MARKER\x7fxxxxxxxxxxxxxxxx'],
  ['a byte past ASCII (0x80)', '/v2/MARKER\x80xxxxxxxxxxxxxxxx'],
  ['a no-break space (0xa0)', '/oidc/MARKER\xa0xxxxxxxxxxxxxxxx'],
])(
  'a target holding %s is refused with a JSON 400, and its log line holds no raw byte',
  async (_name, pattern) => {
    const marker = `m${Math.random().toString(36).slice(2)}`;
    const answer = await send(shipped, pattern.replace('MARKER', marker));
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      errors: [{ code: 'BAD_REQUEST', message: 'malformed request target' }],
    });
    // Its line is written, with no URI: nothing of the target reaches the log.
    await new Promise((r) => setTimeout(r, 300));
    expect(shipped.logs()).not.toContain(marker);
    expect(shipped.logs()).not.toMatch(/[\x7f-\xff]/);
  },
);
