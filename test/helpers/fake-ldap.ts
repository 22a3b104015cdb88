import {
  FilterParser,
  InvalidCredentialsError,
  SizeLimitExceededError,
  UnwillingToPerformError,
  type ClientOptions,
  type Entry,
  type SearchOptions,
} from 'ldapts';
import type { LdapClient } from '../../src/authn/ldap/connection.js';

export interface FakeEntry {
  dn: string;
  password?: string;
  attrs: Record<string, string | string[]>;
}

/**
 * A directory in memory: filters are evaluated with ldapts' own parser and matcher, binds check
 * the entry's password. Records every client, bind and search, and can be "down".
 */
export class FakeDirectory {
  entries: FakeEntry[] = [];
  down = false;
  /** Makes the next search on an already used connection fail as a dead socket would. */
  breakConnections = false;
  clients: FakeClient[] = [];
  binds: { dn: string; client: number }[] = [];
  searches: { base: string; filter: string; attributes: string[] | undefined }[] = [];
  searchDelay: Promise<void> | undefined;
  /** Holds every bind other than the service account's (a slow user bind). */
  userBindDelay: Promise<void> | undefined;

  factory = (options: ClientOptions): LdapClient => {
    const client = new FakeClient(this, options, this.clients.length);
    this.clients.push(client);
    return client as unknown as LdapClient;
  };
}

class FakeClient {
  isConnected = false;
  isBound = false;
  unbound = false;
  tlsUpgraded = false;
  constructor(
    private readonly dir: FakeDirectory,
    readonly options: ClientOptions,
    readonly id: number,
  ) {}

  #connect(): void {
    if (this.dir.down)
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:389'), { code: 'ECONNREFUSED' });
    this.isConnected = true;
  }
  async startTLS(): Promise<void> {
    this.#connect();
    this.tlsUpgraded = true;
  }
  async bind(dn: string, password: string): Promise<void> {
    this.#connect();
    this.dir.binds.push({ dn, client: this.id });
    if (dn !== SERVICE_DN) await this.dir.userBindDelay;
    const entry = this.dir.entries.find((e) => e.dn === dn);
    if (!entry || entry.password !== password) throw new InvalidCredentialsError('Invalid credentials');
    if (entry.attrs['locked']) throw new UnwillingToPerformError('account locked');
    this.isBound = true;
  }
  async search(base: string, options: SearchOptions = {}) {
    if (this.isConnected && this.dir.breakConnections) {
      this.dir.breakConnections = false;
      this.isConnected = false;
      throw new Error('socket hang up');
    }
    this.#connect();
    await this.dir.searchDelay;
    const filter = String(options.filter);
    this.dir.searches.push({ base, filter, attributes: options.attributes });
    const parsed = FilterParser.parseString(filter);
    const found = this.dir.entries.filter(
      (e) =>
        e.dn.endsWith(base) &&
        parsed.matches({ ...(e.attrs as Record<string, string>), dn: e.dn } as Record<string, string>),
    );
    if (options.sizeLimit && found.length > options.sizeLimit) {
      throw new SizeLimitExceededError('Size limit exceeded');
    }
    const searchEntries: Entry[] = found.map((e) => ({ dn: e.dn, ...e.attrs }));
    return { searchEntries, searchReferences: [] };
  }
  async unbind(): Promise<void> {
    this.unbound = true;
    this.isConnected = false;
    this.isBound = false;
  }
}

export const SERVICE_DN = 'uid=svc,ou=services,dc=example,dc=org';
