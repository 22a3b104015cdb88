import { connect, createServer } from 'node:net';

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago. The kernel picks it (listen on
 * port 0), so parallel test files do not collide; another process can still take it before the
 * caller binds, which is an accepted race for tests.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`unexpected listen address ${String(address)}`));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}

/** Whether something on 127.0.0.1 accepts a TCP connection on `port` (a peer's readiness). */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
