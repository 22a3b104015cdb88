import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { fetchAtMost } from '../../src/core/fetch.js';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/**
 * HTTP/1.1 allows bytes past ASCII in a reason phrase; fetch decodes them as UTF-8, and a
 * Response made with that statusText throws. Found by a review: such a provider's every answer
 * failed (oidc_auth's discovery, a login's token), and a refused code read as an outage.
 */
test.each([
  ['latin-1', 'G\u00fcltig'],
  ['UTF-8', Buffer.from('正常', 'utf8').toString('latin1')],
])('an answer whose reason phrase is %s is handed on', async (_name, reason) => {
  const server = createServer((_req, res) =>
    res.writeHead(400, reason, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}'),
  );
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const response = await fetchAtMost(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {});
  expect(response.status).toBe(400);
  expect(response.headers.get('content-type')).toBe('application/json');
  expect(await response.json()).toEqual({ error: 'invalid_grant' });
});
