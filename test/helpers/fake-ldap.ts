import {
  FilterParser,
  InvalidCredentialsError,
  SizeLimitExceededError,
  UnwillingToPerformError,
  type ClientOptions,
  type Entry,
  type SearchOptions,
} from 'ldapts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { compileLdapConfig, ldapAuthSchema, type LdapConfig } from '../../src/authn/ldap/config.js';
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

/** One person of {@link peopleDirectory}. */
export interface Person {
  readonly uid: string;
  readonly mail: string;
  readonly password: string;
}

/**
 * A directory whose people log in by uid or by mail (a login typed as the mail is stored as the
 * uid): the service account and `uid=UID,ou=people,dc=example,dc=org` per person, and the
 * `ldap_auth:` section that reads it, its bind password written to `bind-pw` in `dir` (the
 * config file's folder).
 */
export function peopleDirectory(
  dir: string,
  people: readonly Person[],
): { directory: FakeDirectory; section: string } {
  writeFileSync(join(dir, 'bind-pw'), 'service-password\n');
  const directory = new FakeDirectory();
  directory.entries = [
    { dn: SERVICE_DN, password: 'service-password', attrs: { uid: 'svc' } },
    ...people.map((p) => ({
      dn: `uid=${p.uid},ou=people,dc=example,dc=org`,
      password: p.password,
      attrs: { uid: p.uid, mail: p.mail },
    })),
  ];
  const section =
    `ldap_auth:\n  addr: "ldap.example.org:389"\n  bind_dn: "${SERVICE_DN}"\n  bind_password_file: bind-pw\n` +
    '  base: "dc=example,dc=org"\n  filter: "(|(uid=${account})(mail=${account}))"\n';
  return { directory, section };
}

/**
 * A directory of the service account (password `svc-pw`) and `uid=alice,ou=people,...` (password
 * `alice-pw`, in `cn=devs`), and `ldap_auth` on it: `section` over a minimal one (base `dc=example,dc=org`,
 * people by uid), its clients made by `wrap(directory's own)` when given (a slow or hung
 * directory).
 */
export function aliceDirectory(
  section: Record<string, unknown> = {},
  wrap?: (client: FakeClientApi) => void,
): { directory: FakeDirectory; authn: LdapAuthenticator; config: LdapConfig } {
  const directory = new FakeDirectory();
  directory.entries = [
    { dn: SERVICE_DN, password: 'svc-pw', attrs: { uid: 'svc', objectClass: 'account' } },
    {
      dn: 'uid=alice,ou=people,dc=example,dc=org',
      password: 'alice-pw',
      attrs: { uid: 'alice', objectClass: 'inetOrgPerson', memberOf: 'cn=devs,ou=groups,dc=example,dc=org' },
    },
  ];
  const raw = ldapAuthSchema.parse({
    addr: 'ldap.example.org:389',
    bind_dn: SERVICE_DN,
    bind_password_file: 'pw',
    base: 'dc=example,dc=org',
    filter: '(&(objectClass=inetOrgPerson)(uid=${account}))',
    ...section,
  });
  const config = compileLdapConfig(raw, { at: (p) => p, readFile: () => 'svc-pw\n' });
  const factory = (options: ClientOptions): LdapClient => {
    const client = directory.factory(options);
    wrap?.(client as unknown as FakeClientApi);
    return client;
  };
  return { directory, authn: new LdapAuthenticator(config, factory), config };
}

/** What a wrap of {@link aliceDirectory} may replace on a client. */
export interface FakeClientApi {
  search: (...args: unknown[]) => Promise<unknown>;
}
