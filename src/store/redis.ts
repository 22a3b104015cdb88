import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Redis, ReplyError, type RedisOptions, type StandaloneConnectionOptions } from 'ioredis';
import {
  RESERVATION_LEASE_MS,
  StoreUnavailableError,
  type LimitPolicy,
  type LockoutStore,
  type Reservation,
  type ReserveOutcome,
  type Store,
} from './types.js';

/**
 * The lockout's steps as Lua scripts: Redis runs each one whole before any other command, so a
 * step is atomic across every replica. Times are Unix milliseconds from the caller (replicas'
 * clocks must agree, as NTP keeps them; they already must for tokens' `exp`).
 *
 * Keys of a pair: its hash (`f` failures, `l` locked until) living `forget_after` after the last
 * failure (or until the lock ends), its checks in flight (a sorted set of reservation ids scored by
 * when their lease ends, so a replica that dies mid-check frees its slot after the lease), and its
 * recent success (the login's time, living `remember_success` as it was then, and exempting the
 * pair only while younger than `remember_success` as it is now: a reload that shortens it applies
 * at once; a value of 1 is a success recorded before the time was kept). Keys of an account: its
 * hash (`f` failures, `w` end of the window) and its checks in flight. A failure that locks a pair
 * sets the service's lock epoch to a value of its own (random, so a lost key and a lock after it
 * never bring back a value a replica read before), which every replica reads twice a second, and
 * says so on the service's lock channel (an empty message: it names no account), which every
 * replica listens to. The channel is the fast way; the epoch is heard even when the PUBLISH is
 * refused (a user without the command or the channel's right, which may be another replica's).
 *
 * RESERVE writes nothing before its ZADD: Redis, past `maxmemory` under `noeviction`, refuses a
 * script's first write that may grow memory only when nothing was written before it. Had a
 * clean-up come first, every reservation would pass while every FAILURE (whose first write is
 * HINCRBY) was refused: each password checked and its failure lost, guessing without limit.
 * So its checks in flight are counted live (ZCOUNT past now), and the expired ones dropped after.
 */
const RESERVE = `
local now = tonumber(ARGV[1])
local maxf = tonumber(ARGV[2])
local amax = tonumber(ARGV[3])
local lease = tonumber(ARGV[5])
local live = '(' .. now
local e = redis.call('HMGET', KEYS[1], 'f', 'l')
local f = tonumber(e[1]) or 0
local l = tonumber(e[2]) or 0
if l > now then return {1, l - now} end
local budget = 1
if f < maxf then budget = maxf - f end
if redis.call('ZCOUNT', KEYS[2], live, '+inf') >= budget then return {2, 0} end
local t = tonumber(redis.call('GET', KEYS[5]))
if not (t and (t == 1 or now - t < tonumber(ARGV[6]))) then
  local a = redis.call('HMGET', KEYS[3], 'f', 'w')
  local af = tonumber(a[1]) or 0
  local w = tonumber(a[2]) or 0
  if w <= now then af = 0 end
  if af >= amax then return {1, w - now} end
  if af + redis.call('ZCOUNT', KEYS[4], live, '+inf') >= amax then return {3, 0} end
end
redis.call('ZADD', KEYS[2], now + lease, ARGV[4])
redis.call('ZADD', KEYS[4], now + lease, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
redis.call('PEXPIRE', KEYS[2], lease)
redis.call('PEXPIRE', KEYS[4], lease)
return {0, 0}
`;

const BLOCKED = `
local now = tonumber(ARGV[1])
local l = tonumber(redis.call('HGET', KEYS[1], 'l')) or 0
if l > now then return l - now end
local t = tonumber(redis.call('GET', KEYS[2]))
if t and (t == 1 or now - t < tonumber(ARGV[3])) then return 0 end
local a = redis.call('HMGET', KEYS[3], 'f', 'w')
local af = tonumber(a[1]) or 0
local w = tonumber(a[2]) or 0
if w > now and af >= tonumber(ARGV[2]) then return math.max(1, w - now) end
return 0
`;

const FAILURE = `
local now = tonumber(ARGV[1])
local maxf = tonumber(ARGV[2])
local forget = tonumber(ARGV[5])
local w = tonumber(redis.call('HGET', KEYS[2], 'w')) or 0
if w <= now then
  redis.call('DEL', KEYS[2])
  w = now + forget
  redis.call('HSET', KEYS[2], 'w', w)
end
redis.call('HINCRBY', KEYS[2], 'f', 1)
redis.call('PEXPIRE', KEYS[2], math.max(1, math.floor(w - now)))
local f = redis.call('HINCRBY', KEYS[1], 'f', 1)
local l = tonumber(redis.call('HGET', KEYS[1], 'l')) or 0
local locks = 0
if f >= maxf then
  redis.call('SET', KEYS[3], ARGV[7])
  local over = math.min(f - maxf, 40)
  local secs = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ over)
  l = now + math.floor(secs * 1000)
  redis.call('HSET', KEYS[1], 'l', l)
  locks = 1
end
redis.call('PEXPIRE', KEYS[1], math.max(forget, math.floor(l - now)))
if locks == 1 then redis.pcall('PUBLISH', ARGV[6], '') end
return locks
`;

const SUCCESS = `
local now = tonumber(ARGV[2])
local l = tonumber(redis.call('HGET', KEYS[1], 'l')) or 0
if l > now then return l - now end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1])
return 0
`;

const RELEASE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;

/**
 * The readiness probe: a write through a script on a key of the service, as a login's steps are,
 * so a Redis that answers PING but refuses them (a read-only replica after a failover the URL did
 * not follow, `CLIENT PAUSE WRITE`, past `maxmemory` under `noeviction`, a user without the right)
 * is not ready.
 */
const PROBE = `
redis.call('SET', KEYS[1], '1', 'PX', 1000)
return 1
`;

/** The operations that write (the readiness probe, `ping`, among them). */
const WRITES = new Set(['reserve', 'release', 'failure', 'success', 'mark', 'ping']);

// Not in ioredis' index: the connector it uses for one Redis. Required, as node and vitest
// would import this CommonJS module's default differently.
const { default: StandaloneConnector } = createRequire(import.meta.url)(
  'ioredis/built/connectors/StandaloneConnector.js',
) as typeof import('ioredis/built/connectors/StandaloneConnector.js');

/**
 * ioredis' connector for one Redis, whose every connection also listens for errors for good.
 * ioredis listens to a connection's first 'error' only ('once'), and a TLS connection can emit
 * two: a stray record after the handshake (anyone on the path can add one) fails it again after
 * its certificate check failed, or the write after it fails. The second was thrown, uncaught,
 * and ended the process. ioredis still hears the first, and the close that follows.
 */
class ListeningConnector extends StandaloneConnector {
  // ioredis constructs a Connector with its options (ConnectorConstructor takes them unknown).
  constructor(options: unknown) {
    super(options as StandaloneConnectionOptions);
  }

  override async connect(...args: Parameters<InstanceType<typeof StandaloneConnector>['connect']>) {
    const stream = await super.connect(...args);
    stream.on('error', () => undefined);
    return stream;
  }
}

interface Scripted {
  regauthReserve(...args: string[]): Promise<[number, number]>;
  regauthBlocked(...args: string[]): Promise<number>;
  regauthFailure(...args: string[]): Promise<number>;
  regauthSuccess(...args: string[]): Promise<number>;
  regauthRelease(...args: string[]): Promise<number>;
  regauthProbe(...args: string[]): Promise<number>;
}

export interface RedisStoreOptions {
  readonly url: string;
  readonly username?: string | undefined;
  /** The password, revealed only to the client. */
  readonly password?: { reveal(): string } | undefined;
  readonly caPem?: string | undefined;
  readonly keyPrefix: string;
  /** The longest one operation may take, connecting included. */
  readonly timeoutMs: number;
  /** Told when the store starts or stops answering (`problem` undefined: it answers again). */
  readonly onStatus?: (problem: string | undefined) => void;
  /** Told of each failed operation (for the metric). */
  readonly onError?: (operation: string) => void;
  /**
   * Told when the lock channel cannot be listened to (`problem`), and when it can again
   * (undefined): meanwhile every cached login asks Redis.
   */
  readonly onLockChannel?: (problem: string | undefined) => void;
  /**
   * Told on each connection to a Redis that may evict keys under memory pressure (a `maxmemory`
   * and a policy other than noeviction): every key of the lockout has a TTL, so any such policy
   * can drop a lock or a count before its time.
   */
  readonly onEvicts?: (policy: string, maxmemory: number) => void;
}

/** How often the lock channel's connection is asked whether it is alive. */
const NEWS_HEARTBEAT_MS = 500;

/** No question asked on it within this long answered: a lock may go unheard, so there is no news. */
const NEWS_SILENCE_MS = 1_500;
/**
 * How long the command connection, ready and asked, may answer nothing before it is made again:
 * four of `store.timeout_ms`, at least 2 s. Longer than the listening connection's one timeout,
 * for making it again drops the commands in flight on it.
 */
const commandSilenceMs = (timeoutMs: number): number => Math.max(4 * timeoutMs, 2_000);

/** How soon a refused or unanswered SUBSCRIBE is tried again. */
const NEWS_RETRY_MS = 1_000;

/**
 * The Redis store (`store.type: redis`): one Redis (or Valkey) every replica shares, through
 * ioredis, which reconnects by itself. Every operation is bounded by `timeoutMs` (a Redis that
 * is down, paused or slow costs at most that, never the client's own long timeouts) and throws
 * StoreUnavailableError then. The client's `error` events are handled (a dropped connection
 * never crashes the process); the store's state goes to `onStatus` once per change.
 */
export class RedisStore implements Store {
  readonly type = 'redis' as const;
  readonly shared = true;
  readonly lockout: LockoutStore;
  readonly #client: Redis & Scripted;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #onError: (operation: string) => void;
  /** Whether the store answers (`onStatus`). */
  readonly #status: Outage;
  #closed = false;
  /** A write was refused (Redis answered, no), and no write has passed since. */
  #writesRefused = false;
  /** Why the store can never answer (the database of store.url refused): every operation fails. */
  #fatal: string | undefined;
  /** The connection that listens to the lock channel (a subscribed connection runs nothing else). */
  readonly #news: Redis;
  readonly #lockChannel: string;
  /** Bumped by every lock told, every change of the listening connection and every silence. */
  #lockNews = 0;
  /** Whether the lock channel is subscribed to on a connection not known to be gone. */
  #listening = false;
  /** When the lock channel was last known heard (the latest asking answered): performance.now(). */
  #heardAt = -Infinity;
  /**
   * Since when (performance.now()) the command connection, ready all along, has been asked the
   * lock epoch and answered nothing at all; undefined once it answers (a refusal included) or a
   * connection is made again.
   */
  #silentSince: number | undefined;
  /** Whether the lock channel can be listened to (`onLockChannel`). */
  readonly #lockChannelOutage: Outage;
  /** The key each lock of the service's replicas sets to a random value (FAILURE), and its value last read. */
  readonly #lockEpoch: string;
  #epoch: string | null | undefined;
  /** When the lock epoch was last read (the latest reading answered): performance.now(). */
  #epochReadAt = -Infinity;
  #heartbeat: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;

  constructor(options: RedisStoreOptions) {
    this.#prefix = options.keyPrefix;
    this.#timeoutMs = options.timeoutMs;
    this.#status = new Outage('not connected yet', options.onStatus);
    this.#onError = options.onError ?? (() => undefined);
    this.#lockChannelOutage = new Outage(undefined, options.onLockChannel);
    const clientOptions: RedisOptions = {
      connectTimeout: options.timeoutMs,
      commandTimeout: options.timeoutMs,
      // Commands made while the connection is down wait for it (bounded by commandTimeout), and
      // are never sent twice: a script is not retried on another connection.
      maxRetriesPerRequest: 0,
      enableOfflineQueue: true,
      // Reconnect for ever, every 100 ms at first, at most every 2 s.
      retryStrategy: (times) => Math.min(100 * times, 2_000),
      lazyConnect: false,
      Connector: ListeningConnector,
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password.reveal() } : {}),
      ...(options.caPem !== undefined ? { tls: { ca: options.caPem } } : {}),
    };
    const client = new Redis(options.url, clientOptions) as Redis & Scripted;
    client.defineCommand('regauthReserve', { numberOfKeys: 5, lua: RESERVE });
    client.defineCommand('regauthBlocked', { numberOfKeys: 3, lua: BLOCKED });
    client.defineCommand('regauthFailure', { numberOfKeys: 3, lua: FAILURE });
    client.defineCommand('regauthSuccess', { numberOfKeys: 2, lua: SUCCESS });
    client.defineCommand('regauthRelease', { numberOfKeys: 2, lua: RELEASE });
    client.defineCommand('regauthProbe', { numberOfKeys: 1, lua: PROBE });
    // Whether Redis refused this connection's AUTH (its reason then says why a NOAUTH follows).
    let authRefused = false;
    // Without a listener an 'error' event would be thrown and end the process.
    client.on('error', (err: Error) => {
      const command = (err as { command?: { name?: string } }).command?.name;
      if (command === 'auth') authRefused = true;
      // ioredis selects store.url's database on each connection and, when Redis refuses it, goes
      // on in database 0: every key would land there, shared with whatever else does. A database
      // Redis can never select (past its `databases`, or a cluster) stops the store, which says
      // why; any other refusal (busy, a refused password, too many clients) passes: the
      // connection is dropped before it is used, and made again.
      if (command === 'select') {
        if (NEVER_SELECTED.test(err.message)) {
          this.#fatal = `Redis refused the database of store.url (${describe(err)})`;
          this.#status.set(this.#fatal);
          client.disconnect(false);
          return;
        }
        client.disconnect(true);
        // Behind a refused AUTH, that refusal is the reason and the SELECT's NOAUTH says nothing
        // more; otherwise (no password, or one Redis took without checking) NOAUTH is the reason.
        if (!(err.message.startsWith('NOAUTH') && authRefused)) this.#setProblem(describe(err));
        return;
      }
      // What ioredis reports of a connection already dropped (its ready check cut off with it)
      // keeps the reason the connection was dropped for.
      if (unconnected(err) && this.#status.problem !== undefined) return;
      this.#setProblem(describe(err));
    });
    // A closed connection keeps the reason it failed with (refused, a certificate), if any.
    client.on('close', () => {
      authRefused = false;
      if (this.#status.problem === undefined) this.#setProblem('connection closed');
    });
    client.on('ready', () => {
      // A new connection: the silence of the last one (and readings queued meanwhile) says nothing of it.
      this.#silentSince = undefined;
      this.#setProblem(undefined);
      if (options.onEvicts) this.#checkEviction(client, options.onEvicts);
    });
    this.#client = client;
    this.#lockChannel = `${this.#prefix}lockout:locks`;
    this.#lockEpoch = `${this.#prefix}lockout:epoch`;
    this.#news = this.#listenForLocks(client);
    this.lockout = this.#lockoutStore();
  }

  /**
   * Listens to the lock channel on a connection of its own, and asks that connection every
   * NEWS_HEARTBEAT_MS whether it is alive (PING): a connection whose flow a NAT or firewall
   * dropped without closing it would otherwise look alive, and miss every lock. There is news
   * only while subscribed and answered within NEWS_SILENCE_MS of asking (an answer proves that
   * every lock told before Redis read the question has arrived, so a slow path counts from the
   * asking, on a monotonic clock); any gap, closed connection or new subscription bumps the
   * number, so nothing remembered before counts afterwards. A PING or SUBSCRIBE unanswered
   * within the timeout reconnects; a SUBSCRIBE refused (an ACL user without the channel's right)
   * is tried again every NEWS_RETRY_MS. Both are told to `onLockChannel` once per change.
   *
   * The lock epoch is read as often on the command connection: a lock whose PUBLISH was refused
   * (on this replica or another) is heard when the epoch moves, and there is news only while a
   * reading asked within NEWS_SILENCE_MS has been answered too.
   */
  #listenForLocks(client: Redis): Redis {
    // Subscribed by the 'ready' handler below on every connection, with its own error handling:
    // ioredis's own re-subscription would send a second SUBSCRIBE whose failure nobody handles.
    const news = client.duplicate({ autoResubscribe: false });
    const subscribe = () => {
      clearTimeout(this.#retry);
      const sent = performance.now();
      news.subscribe(this.#lockChannel).then(
        () => {
          if (news.status !== 'ready' || this.#closed) return;
          this.#listening = true;
          this.#heard(sent);
          this.#lockNews++;
          this.#setLockChannelProblem(undefined);
        },
        (err: unknown) => {
          this.#setLockChannelProblem(describe(err));
          if (this.#closed) return;
          // No answer at all (not a refusal): the flow may be dead; retrying on it never ends.
          if (!(err instanceof ReplyError)) {
            news.disconnect(true);
            return;
          }
          clearTimeout(this.#retry);
          this.#retry = setTimeout(() => {
            if (news.status === 'ready' && !this.#closed) subscribe();
          }, NEWS_RETRY_MS).unref();
        },
      );
    };
    news.on('error', () => undefined);
    news.on('close', () => {
      this.#listening = false;
      this.#lockNews++;
    });
    news.on('ready', subscribe);
    news.on('message', (channel: string) => {
      if (channel !== this.#lockChannel) return;
      this.#lockNews++;
    });
    this.#heartbeat = setInterval(() => {
      this.#readLockEpoch(client);
      if (!this.#listening) return;
      const sent = performance.now();
      news.ping().then(
        () => this.#heard(sent),
        () => {
          // Unanswered: the flow may be gone without a close. Hear nothing more from it.
          this.#listening = false;
          this.#lockNews++;
          if (!this.#closed) news.disconnect(true);
        },
      );
    }, NEWS_HEARTBEAT_MS).unref();
    return news;
  }

  /**
   * Tells `onEvicts` when Redis may evict keys. INFO refused (an ACL user without it) or
   * unanswered tells nothing: the check is advice, not a condition.
   */
  #checkEviction(client: Redis, onEvicts: (policy: string, maxmemory: number) => void): void {
    client.info('memory').then(
      (text) => {
        const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim();
        const policy = field('maxmemory_policy');
        const maxmemory = Number(field('maxmemory'));
        if (!this.#closed && policy !== undefined && policy !== 'noeviction' && maxmemory > 0)
          onEvicts(policy, maxmemory);
      },
      () => undefined,
    );
  }

  /**
   * Reads the lock epoch; a new value is news of a lock (or of the key lost: heard as one). The
   * reading is also the command connection's heartbeat: a connection that stays ready and answers
   * nothing at all for commandSilenceMs(store.timeout_ms) while it is asked, twice a second, may
   * be a flow gone without a close (a NAT or firewall that dropped it, an L4 proxy whose upstream
   * died), on which every lockout step would time out until the kernel gives the socket up,
   * minutes later: it is made again. A stall of Redis shorter than that (a fork for BGSAVE, a
   * paused VM) drops nothing: commands in flight keep their own timeouts.
   */
  #readLockEpoch(client: Redis): void {
    const sent = performance.now();
    if (client.status === 'ready' && !this.#closed) {
      if (this.#silentSince !== undefined && sent - this.#silentSince > commandSilenceMs(this.#timeoutMs)) {
        this.#silentSince = undefined;
        client.disconnect(true);
        return;
      }
      this.#silentSince ??= sent;
    }
    client.get(this.#lockEpoch).then(
      (epoch) => {
        this.#answered();
        if (epoch !== this.#epoch) this.#lockNews++;
        this.#epoch = epoch;
        // As for the channel: after a silence, a lock may have come and gone unread.
        if (sent - this.#epochReadAt > NEWS_SILENCE_MS) this.#lockNews++;
        this.#epochReadAt = Math.max(this.#epochReadAt, sent);
      },
      (err: unknown) => {
        if (err instanceof ReplyError) this.#answered();
      },
    );
  }

  /** The command connection answered (a reply or a refusal): its flow is alive. */
  #answered(): void {
    this.#silentSince = undefined;
  }

  /** A question asked at `sent` was answered; after a silence, a lock may have been missed. */
  #heard(sent: number): void {
    // What an answer proves: every lock Redis told before it read the PING has been heard.
    if (sent - this.#heardAt > NEWS_SILENCE_MS) this.#lockNews++;
    this.#heardAt = Math.max(this.#heardAt, sent);
  }

  #setLockChannelProblem(problem: string | undefined): void {
    if (!this.#closed) this.#lockChannelOutage.set(problem);
  }

  #setProblem(problem: string | undefined): void {
    if (!this.#closed && this.#fatal === undefined) this.#status.set(problem);
  }

  /**
   * Runs one operation within the timeout; any failure becomes StoreUnavailableError. Redis
   * answering a read says nothing of its writes: a
   * problem a refused write set (a read-only replica, out of memory) is cleared only by a write
   * that passes (WRITES), or the store's state would flap with every read.
   */
  async #run<T>(operation: string, op: () => Promise<T>): Promise<T> {
    const writes = WRITES.has(operation);
    if (this.#fatal !== undefined) {
      this.#onError(operation);
      throw new StoreUnavailableError(`${operation}: ${this.#fatal}`);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    });
    try {
      const result = await Promise.race([op(), timeout]);
      this.#answered();
      if (this.#client.status === 'ready' && (writes || !this.#writesRefused)) {
        this.#writesRefused = false;
        this.#setProblem(undefined);
      }
      return result;
    } catch (err) {
      // Failed for want of a connection (or timed out waiting for one): the connection's own
      // reason says why, where ioredis' says only that the command was not retried
      // (maxRetriesPerRequest: 0) or was dropped, and the timeout only that nothing answered.
      const noConnection = unconnected(err) || this.#client.status !== 'ready';
      if (err instanceof ReplyError) this.#answered();
      if (writes && err instanceof ReplyError) this.#writesRefused = true;
      const reason = this.#fatal ?? (noConnection ? (this.#status.problem ?? describe(err)) : describe(err));
      this.#setProblem(reason);
      this.#onError(operation);
      throw new StoreUnavailableError(`${operation}: ${reason}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A key of this service: the prefix, the kind, and the caller's key (hashed when long). */
  #key(kind: string, key: string): string {
    const k = key.length > 200 ? `#${createHash('sha256').update(key).digest('base64url')}` : key;
    return `${this.#prefix}${kind}:${k}`;
  }

  #lockoutStore(): LockoutStore {
    const c = this.#client;
    const pairKeys = (pair: string) => ({
      entry: this.#key('lockout:pair', pair),
      inFlight: this.#key('lockout:pair-checks', pair),
      success: this.#key('lockout:success', pair),
    });
    const accountKeys = (account: string) => ({
      entry: this.#key('lockout:account', account),
      inFlight: this.#key('lockout:account-checks', account),
    });
    return {
      size: undefined,
      blocked: (pair: string, account: string, policy: LimitPolicy, now: number) =>
        this.#run('blocked', async () => {
          const p = pairKeys(pair);
          const ms = await c.regauthBlocked(
            p.entry,
            p.success,
            accountKeys(account).entry,
            String(now),
            String(policy.account_max_failures),
            String(policy.remember_success * 1000),
          );
          return ms > 0 ? Math.max(1, Math.ceil(ms / 1000)) : 0;
        }),
      reserve: async (pair: string, account: string, policy: LimitPolicy, now: number) => {
        const p = pairKeys(pair);
        const a = accountKeys(account);
        const id = randomUUID();
        try {
          return await this.#run('reserve', async (): Promise<ReserveOutcome> => {
            const [code, ms] = await c.regauthReserve(
              p.entry,
              p.inFlight,
              a.entry,
              a.inFlight,
              p.success,
              String(now),
              String(policy.max_failures),
              String(policy.account_max_failures),
              id,
              String(RESERVATION_LEASE_MS),
              String(policy.remember_success * 1000),
            );
            if (code === 0) return { key: pair, account, id };
            if (code === 1) return { refused: Math.max(1, Math.ceil(ms / 1000)) };
            return code === 2 ? 'pair' : 'account';
          });
        } catch (err) {
          // Timed out, the script may still run once Redis answers again (a paused or busy Redis
          // runs what it was sent): take its slot back right after it, on the same connection,
          // or it would hold the slot for the whole lease and lock the pair's owner out.
          c.regauthRelease(p.inFlight, a.inFlight, id).catch(() => undefined);
          throw err;
        }
      },
      release: (reservation: Reservation) =>
        this.#run('release', async () => {
          await c.regauthRelease(
            pairKeys(reservation.key).inFlight,
            accountKeys(reservation.account).inFlight,
            reservation.id,
          );
        }),
      failure: (pair: string, account: string, policy: LimitPolicy, now: number) =>
        this.#run('failure', async () => {
          const locks = await c.regauthFailure(
            pairKeys(pair).entry,
            accountKeys(account).entry,
            this.#lockEpoch,
            String(now),
            String(policy.max_failures),
            String(policy.backoff),
            String(policy.max_backoff),
            String(policy.forget_after * 1000),
            this.#lockChannel,
            randomUUID(),
          );
          return locks === 1;
        }),
      lockNews: () => {
        const now = performance.now();
        return this.#listening &&
          now - this.#heardAt <= NEWS_SILENCE_MS &&
          now - this.#epochReadAt <= NEWS_SILENCE_MS
          ? this.#lockNews
          : undefined;
      },
      success: (pair: string, _account: string, policy: LimitPolicy, nowMs: number) =>
        this.#run('success', async () => {
          const p = pairKeys(pair);
          const lockedMs = await c.regauthSuccess(
            p.entry,
            p.success,
            String(policy.remember_success * 1000),
            String(nowMs),
          );
          return lockedMs > 0 ? Math.ceil(lockedMs / 1000) : 0;
        }),
    };
  }

  mark(namespace: string, id: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    return this.#run('mark', async () => {
      const ttl = Math.max(1, Math.ceil(expiresAtMs - nowMs));
      const set = await this.#client.set(this.#key(`mark:${namespace}`, id), '1', 'PX', ttl, 'NX');
      return set === 'OK';
    });
  }

  marked(namespace: string, id: string): Promise<boolean> {
    return this.#run(
      'marked',
      async () => (await this.#client.exists(this.#key(`mark:${namespace}`, id))) === 1,
    );
  }

  ping(): Promise<void> {
    return this.#run('ping', async () => {
      await this.#client.regauthProbe(this.#key('probe', 'readyz'));
    });
  }

  problem(): string | undefined {
    return this.#status.problem;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#retry);
    await Promise.all([this.#client, this.#news].map(quit));
  }
}

/** Redis' answers to a SELECT that no retry can change. */
const NEVER_SELECTED = /DB index is out of range|not allowed in cluster mode|value is not an integer/i;

/** Whether an operation failed because there was no connection to send it on. */
function unconnected(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'MaxRetriesPerRequestError' || err.message === 'Connection is closed.')
  );
}

/**
 * A connection's problem, told to `tell` once per outage: when it starts and when it ends
 * (between two failures the reason may change, refused then timed out, and is not told again).
 * The initial problem (not connected yet) is provisional: the first reason that replaces it is
 * told, so a store that never connects says why.
 */
class Outage {
  #problem: string | undefined;
  #provisional: boolean;
  readonly #tell: (problem: string | undefined) => void;

  constructor(initial: string | undefined, tell: ((problem: string | undefined) => void) | undefined) {
    this.#problem = initial;
    this.#provisional = initial !== undefined;
    this.#tell = tell ?? (() => undefined);
  }

  /** The current problem, or undefined while there is none. */
  get problem(): string | undefined {
    return this.#problem;
  }

  set(problem: string | undefined): void {
    if (problem === this.#problem) return;
    const changed = this.#provisional || (problem === undefined) !== (this.#problem === undefined);
    this.#provisional = false;
    this.#problem = problem;
    if (changed) this.#tell(problem);
  }
}

async function quit(client: Redis): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/** An error's message as a problem: never the password (ioredis does not put it in messages). */
function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.slice(0, 200);
}
