import type { StoreConfig } from './config.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { Store } from './types.js';

/** The store `store:` names. */
export function createStore(
  config: StoreConfig,
  options: {
    /** `lockout.max_entries` (memory only). */
    maxEntries: number;
    onStatus?: (problem: string | undefined) => void;
    onError?: (operation: string) => void;
    /** Redis only: the lock channel cannot be listened to (`problem`), or can again. */
    onLockChannel?: (problem: string | undefined) => void;
    /** Redis only: Redis may evict the lockout's keys under memory pressure. */
    onEvicts?: (policy: string, maxmemory: number) => void;
  },
): Store {
  if (config.type === 'memory') return new MemoryStore({ maxEntries: options.maxEntries });
  return new RedisStore({
    url: config.url,
    username: config.username,
    password: config.password,
    caPem: config.caPem,
    keyPrefix: config.keyPrefix,
    timeoutMs: config.timeoutMs,
    ...(options.onStatus ? { onStatus: options.onStatus } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    ...(options.onLockChannel ? { onLockChannel: options.onLockChannel } : {}),
    ...(options.onEvicts ? { onEvicts: options.onEvicts } : {}),
  });
}
