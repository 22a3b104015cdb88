import type { Server } from 'node:http';
import type { Config } from '../config/load.js';

/** What bounds every listener's connections: `server.max_connections` and its two deadlines. */
export type ConnectionLimits = Pick<
  Config['server'],
  'maxConnections' | 'headersTimeoutMs' | 'requestTimeoutMs'
>;

/** How often node looks for connections past their header or request deadline. */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;

/**
 * The options a listener is made with. Slow clients (a connection that sends nothing, half a
 * header, a body a byte at a time) are cut off within seconds: the header and the whole request
 * each have a deadline, checked every second (node's default check runs every 30 s, so a
 * deadline could be missed by that).
 */
export function listenerOptions(limits: ConnectionLimits): {
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  };
}

/**
 * Sets `server.max_connections` and the two deadlines on a running listener (at start, and again
 * after a reload). Past `max_connections` open connections a new one is closed at once, so a
 * flood cannot use up the process's file descriptors.
 */
export function applyConnectionLimits(server: Server, limits: ConnectionLimits): void {
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
}
