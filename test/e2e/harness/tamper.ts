import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A stray TLS record: a plaintext alert (decode_error). Appended after a server's handshake
 * flight it reaches the client once the handshake is done, when records must be encrypted, so
 * the client's TLS fails on it a second time: after the certificate check already failed.
 */
export const STRAY_RECORD = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]);

export interface TamperingRelay {
  readonly port: number;
  /** How many connections were tampered with so far. */
  tampered(): number;
  stop(): Promise<void>;
}

/**
 * A TCP relay on 127.0.0.1 in front of `targetPort`, standing in for an attacker on the path
 * between regauth and a TLS peer: it passes both directions through and, on every connection,
 * appends STRAY_RECORD to the peer's chunk number `serverChunk` (0-based: 0 is a TLS server's
 * first flight; 1 is the TLS server's first flight after one plain answer, as after StartTLS).
 */
export async function startTamperingRelay(targetPort: number, serverChunk = 0): Promise<TamperingRelay> {
  let tampered = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    open.add(client).add(upstream);
    let chunk = 0;
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('data', (data: Buffer) => upstream.write(data));
    upstream.on('data', (data: Buffer) => {
      if (chunk++ === serverChunk) {
        tampered++;
        client.write(Buffer.concat([data, STRAY_RECORD]));
      } else client.write(data);
    });
    client.on('close', () => {
      open.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      open.delete(upstream);
      client.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay has no port');
  return {
    port: address.port,
    tampered: () => tampered,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}
