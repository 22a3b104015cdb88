import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import type { Labels } from '../authz/types.js';
import type { Config } from '../config/load.js';
import { ONLINE_BACKENDS } from '../config/sections.js';
import { foldAccountName, quoteAccount, quoteText } from '../core/account-name.js';
import { revokedBefore } from '../token/refresh.js';
import { anonymousRefused, offlineLabels } from './check.js';
import { BadRequestError, UsageError } from '../core/errors.js';
import { asksExtAuthz, refusedService } from '../pipeline/pipeline.js';
import { parseScopes, type Scope } from '../request/scope.js';

/** One audit file: a path, or `-` for `stdin`. Plain JSON lines or gzip (told by its first bytes). */
export interface AuditSource {
  readonly name: string;
  /** Opens the bytes; for tests and stdin. Default: the file `name`. */
  readonly open?: () => AsyncIterable<Buffer | string>;
}

export interface ReplayOptions {
  /** The config to re-decide with. */
  readonly config: Config;
  /** The config the recorded decisions are compared against; absent: the decisions in the lines. */
  readonly against?: Config;
  /** At most this many distinct decisions are kept (memory bound); the rest are counted. */
  readonly maxDistinct?: number;
  /** At most this many malformed lines are listed (all are counted). */
  readonly maxListed?: number;
  /** Told after each chunk read (about 1 MiB): the lines read so far, and the file being read. */
  readonly onProgress?: (lines: number, file: string) => void;
}

/** A deciding rule as the report names it; null: no rule matched. */
export interface RuleRef {
  readonly index: number;
  readonly path: string;
  readonly comment?: string;
}

/** One side of a comparison. */
export interface Decided {
  readonly granted: readonly string[];
  readonly rule: RuleRef | null;
  /**
   * `acl`, `ext_authz` (recorded only), `deny` (no rule matched), `unauthenticated` (account or
   * its backend gone, or the anonymous account refused), `service` (the service is refused: 400
   * before any rule), `refresh` (refresh tokens are off: the refresh grant is refused).
   */
  readonly by: 'acl' | 'ext_authz' | 'deny' | 'unauthenticated' | 'service' | 'refresh';
}

/** A distinct (account, labels, client address and proxy, grant, service, scope) and how often it was seen. */
export interface ReplayedDecision {
  readonly account: string;
  readonly ip: string | null;
  /** The proxy the request came through (its socket peer), or null. */
  readonly via: string | null;
  /** `password` (a login, anonymous ones too) or `refresh_token`. */
  readonly grant: string;
  readonly service: string;
  readonly scope: string;
  /** The backend that authenticated the account, as recorded. */
  readonly authenticator: string;
  /** The labels recorded in the audit line, when it holds them. */
  readonly labels?: Labels;
  readonly count: number;
  /** The `time` of the last line with it, or null when the lines hold none. */
  readonly lastSeen: string | null;
}

export interface ReplayChange extends ReplayedDecision {
  readonly before: Decided;
  readonly after: Decided;
  /** Actions granted before and not now. */
  readonly lost: readonly string[];
  /** Actions granted now and not before. */
  readonly gained: readonly string[];
}

export interface ReplayUndetermined extends ReplayedDecision {
  /** Why it could not be re-decided, in words. */
  readonly reason: string;
}

export interface MalformedLine {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  readonly reason: string;
}

export interface GroupCount {
  readonly decisions: number;
  readonly requests: number;
  readonly lost: number;
  readonly gained: number;
  readonly lastSeen: string | null;
}

export interface ReplayReport {
  readonly lines: number;
  /** Token requests whose audit line holds decisions (the others: failed logins, bad requests). */
  readonly requests: number;
  /** Audit lines of token requests without decisions, and other log lines: skipped. */
  readonly skipped: number;
  readonly distinct: number;
  /**
   * Distinct decisions decided again and compared (`distinct` less `undetermined`). When 0,
   * nothing was compared, and no change found says nothing (the CLI exits 2: nothingReplayed).
   */
  readonly redecided: number;
  /** Scope decisions of lines not replayed: new distinct decisions beyond `maxDistinct`. */
  readonly overLimit: number;
  readonly comparedWith: 'recorded decisions' | 'config';
  /** Decisions whose granted actions differ, most requests first. */
  readonly changes: readonly ReplayChange[];
  /** By the rule that decides in the new config (`no rule` when none). */
  readonly byRule: readonly ({ readonly rule: RuleRef | null } & GroupCount)[];
  readonly byAccount: readonly ({ readonly account: string } & GroupCount)[];
  readonly undetermined: readonly ReplayUndetermined[];
  readonly malformed: number;
  /** The first `maxListed` malformed lines. */
  readonly malformedLines: readonly MalformedLine[];
}

/**
 * The values in which otherwise identical audit lines differ, as valid JSON: a line with them
 * replaced by `""` and `0` is valid JSON exactly when the line is, so it can stand for the line.
 */
const VOLATILE =
  /"(time|requestId)":"[^"\\\u0000-\u001f]*"|"ms":-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
/**
 * Lines parsed once and remembered by their VOLATILE-free text, audit lines and other log lines
 * (never a malformed one): at most this many, of at most MAX_SIGNATURE_CHARS in all (cleared
 * when either is reached).
 */
const MAX_SIGNATURES = 100_000;
const MAX_SIGNATURE_CHARS = 32 * 1024 * 1024;

/** A line longer than this is malformed (and not held in memory). */
export const MAX_LINE_BYTES = 1024 * 1024;

interface Entry {
  scope: Scope;
  account: string;
  ip: string | null;
  via: string | null;
  grant: string;
  service: string;
  scopeText: string;
  authenticator: string;
  labels: Labels | undefined;
  recorded: AuditLine['decisions'][number];
  count: number;
  lastSeen: string | null;
}

/**
 * Replays audit lines against a config (docs/cli.md "`regauth replay`"): every distinct
 * (account, labels, client address and proxy, grant, service, scope) is decided again with `options.config`, and
 * with `options.against` or as recorded, and the decisions whose granted actions differ are
 * reported. Streams the lines (memory grows with distinct decisions, not with lines); a line
 * that is not JSON, or an audit line of the wrong shape, is counted and listed, never fatal.
 */
export async function replayAudit(
  sources: readonly AuditSource[],
  options: ReplayOptions,
): Promise<ReplayReport> {
  const maxDistinct = options.maxDistinct ?? 1_000_000;
  const maxListed = options.maxListed ?? 100;
  const entries = new Map<string, Entry>();
  const malformedLines: MalformedLine[] = [];
  let malformed = 0;
  let lines = 0;
  let requests = 0;
  let skipped = 0;
  let overLimit = 0;
  const seenLines = new Map<string, AuditLine | null>();
  let seenChars = 0;

  const bad = (file: string, line: number, reason: string) => {
    malformed++;
    if (malformedLines.length < maxListed) malformedLines.push({ file, line, reason });
  };

  for (const source of sources) {
    let n = 0;
    try {
      for await (const batch of readLines(source)) {
        for (const line of batch) {
          n++;
          lines++;
          if (line === null) {
            bad(source.name, n, `longer than ${MAX_LINE_BYTES} bytes`);
            continue;
          }
          if (line.trim() === '') {
            skipped++;
            continue;
          }
          // Lines that differ only in time, requestId and ms are parsed once.
          let time: string | null = null;
          const signature = line.replace(VOLATILE, (match, key: string | undefined) => {
            if (key === undefined) return '"ms":0';
            if (key === 'time') time = match.slice('"time":"'.length, -1);
            return `"${key}":""`;
          });
          let parsed: ReturnType<typeof parseAuditLine> | undefined = seenLines.get(signature);
          if (parsed === undefined) {
            parsed = parseAuditLine(line);
            if (typeof parsed !== 'string') {
              if (seenLines.size >= MAX_SIGNATURES || seenChars + signature.length > MAX_SIGNATURE_CHARS) {
                seenLines.clear();
                seenChars = 0;
              }
              seenLines.set(signature, parsed);
              seenChars += signature.length;
            }
          }
          if (typeof parsed === 'string') {
            bad(source.name, n, parsed);
            continue;
          }
          if (parsed === null) {
            skipped++;
            continue;
          }
          requests++;
          for (const [i, d] of parsed.decisions.entries()) {
            const key = `${parsed.account}\u0000${parsed.ip ?? '\u0001'}\u0000${parsed.via ?? '\u0001'}\u0000${parsed.grant}\u0000${parsed.service}\u0000${d.scope}\u0000${parsed.labelsKey}`;
            let entry = entries.get(key);
            if (!entry) {
              if (entries.size >= maxDistinct) {
                overLimit++;
                continue;
              }
              const scope = parseScope(d.scope);
              if (!scope) {
                bad(
                  source.name,
                  n,
                  `decisions[${i}].scope is not a scope: ${quoteText(d.scope.slice(0, 100))}`,
                );
                continue;
              }
              entry = {
                scope,
                account: parsed.account,
                ip: parsed.ip,
                via: parsed.via,
                grant: parsed.grant,
                service: parsed.service,
                scopeText: d.scope,
                authenticator: parsed.authenticator,
                labels: parsed.labels,
                recorded: d,
                count: 0,
                lastSeen: null,
              };
              entries.set(key, entry);
            }
            entry.count++;
            // The latest line wins: the decision as last recorded, by the lines' time (files may
            // be given newest first, as a glob of rotated logs orders them); lines without one
            // in the order read, until a line with a time is seen.
            const seenAt = time ?? parsed.time;
            if (seenAt === null) {
              if (entry.lastSeen === null) entry.recorded = d;
            } else if (entry.lastSeen === null || seenAt >= entry.lastSeen) {
              entry.lastSeen = seenAt;
              entry.recorded = d;
            }
          }
        }
        options.onProgress?.(lines, source.name);
      }
    } catch (err) {
      // The file itself cannot be read (EACCES, EISDIR…): nothing was replayed, which no report
      // may pass for "no decision changes". Bad content (a broken gzip stream) is a malformed line.
      if (err instanceof Error && 'syscall' in err) {
        throw new UsageError(
          `${source.name}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err.message})`,
          {
            cause: err,
          },
        );
      }
      bad(source.name, n + 1, `unreadable: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  const changes: ReplayChange[] = [];
  const undetermined: ReplayUndetermined[] = [];
  for (const entry of entries.values()) {
    const scope = entry.scope;
    const seen: ReplayedDecision = {
      account: entry.account,
      ip: entry.ip,
      via: entry.via,
      grant: entry.grant,
      service: entry.service,
      scope: entry.scopeText,
      authenticator: entry.authenticator,
      ...(entry.labels ? { labels: entry.labels } : {}),
      count: entry.count,
      lastSeen: entry.lastSeen,
    };
    const after = decide(options.config, entry, scope, options.against);
    const before = options.against ? decide(options.against, entry, scope) : recorded(entry);
    const open = [after, before].find((d): d is { undetermined: string } => 'undetermined' in d);
    if (open) {
      undetermined.push({ ...seen, reason: open.undetermined });
      continue;
    }
    const b = before as Decided;
    const a = after as Decided;
    const lost = b.granted.filter((x) => !a.granted.includes(x));
    const gained = a.granted.filter((x) => !b.granted.includes(x));
    if (lost.length > 0 || gained.length > 0) changes.push({ ...seen, before: b, after: a, lost, gained });
  }
  changes.sort(
    (x, y) => y.count - x.count || x.account.localeCompare(y.account) || x.scope.localeCompare(y.scope),
  );
  undetermined.sort((x, y) => y.count - x.count || x.account.localeCompare(y.account));

  return {
    lines,
    requests,
    skipped,
    distinct: entries.size,
    redecided: entries.size - undetermined.length,
    overLimit,
    comparedWith: options.against ? 'config' : 'recorded decisions',
    changes,
    byRule: group(changes, (c) => (c.after.rule === null ? 'none' : String(c.after.rule.index))).map(
      ([, g, first]) => ({ rule: first.after.rule, ...g }),
    ),
    byAccount: group(changes, (c) => c.account).map(([account, g]) => ({ account, ...g })),
    undetermined,
    malformed,
    malformedLines,
  };
}

function group(
  changes: readonly ReplayChange[],
  keyOf: (c: ReplayChange) => string,
): [string, GroupCount, ReplayChange][] {
  const groups = new Map<string, { g: GroupCount; first: ReplayChange }>();
  for (const c of changes) {
    const key = keyOf(c);
    const prev = groups.get(key);
    const g = prev?.g ?? { decisions: 0, requests: 0, lost: 0, gained: 0, lastSeen: null };
    groups.set(key, {
      first: prev?.first ?? c,
      g: {
        decisions: g.decisions + 1,
        requests: g.requests + c.count,
        lost: g.lost + (c.lost.length > 0 ? 1 : 0),
        gained: g.gained + (c.gained.length > 0 ? 1 : 0),
        lastSeen:
          c.lastSeen !== null && (g.lastSeen === null || c.lastSeen > g.lastSeen) ? c.lastSeen : g.lastSeen,
      },
    });
  }
  return [...groups]
    .map(([k, v]): [string, GroupCount, ReplayChange] => [k, v.g, v.first])
    .sort((a, b) => b[1].requests - a[1].requests);
}

const STATIC_BACKENDS = ['users', 'users_file'] as const;

/** Re-decides one distinct decision with a config, or says why it cannot. */
/**
 * Re-decides one distinct decision with a config, or says why it cannot. `previous`: the config
 * the decision is compared with (`--against`), which the refresh grants it honoured were bound to.
 */
function decide(
  config: Config,
  entry: Entry,
  scope: Scope,
  previous?: Config,
): Decided | { undetermined: string } {
  // As the server: a service token.services does not list is refused (400) before any rule.
  if (refusedService(config.token.services, entry.service, config.catalog?.service) !== undefined) {
    return { granted: [], rule: null, by: 'service' };
  }
  // Without token.refresh the refresh grant is refused (401) before any rule.
  if (entry.grant === 'refresh_token' && config.token.refresh === undefined) {
    return { granted: [], rule: null, by: 'refresh' };
  }
  const gone = goneAccount(config, entry, previous);
  if (gone !== undefined) return gone;
  let labels = entry.labels;
  if (!labels) {
    if ((STATIC_BACKENDS as readonly string[]).includes(entry.authenticator)) {
      // Static accounts' labels are the config's own: a labels change in it is a real change.
      const user = config.users?.get(entry.account) ?? config.users_file?.users.get(entry.account);
      if (!user) {
        if (ONLINE_BACKENDS.some((s) => config[s] !== undefined)) {
          return {
            undetermined: `${entry.authenticator} account no longer in users: or users_file; another backend may know it`,
          };
        }
        return { granted: [], rule: null, by: 'unauthenticated' };
      }
      labels = user.labels;
    }
  }
  const trusted = (address: string | null) =>
    address !== null && config.server.trustedProxies.contains(address);
  // A proxy the config no longer trusts is taken for the client, as the server takes it. An
  // address the line took for the client that the config now trusts as a proxy is not the client
  // for the server, which reads the client further left in X-Forwarded-For: the line does not
  // hold it, so the address is unknown.
  const viaTakenForClient = entry.via !== null && !trusted(entry.via);
  const ipUnknown = !viaTakenForClient && trusted(entry.ip);
  const request = {
    account: entry.account,
    type: scope.type,
    name: scope.name,
    service: entry.service,
    actions: scope.actions,
  };
  const ip = viaTakenForClient ? entry.via : entry.ip;
  if (labels && !ipUnknown) {
    const d = config.acl.authorize({ ...request, ip, labels });
    if (d.rule === null && asksExtAuthz(config, entry.service))
      return { undetermined: 'no ACL rule matches and ext_authz decides' };
    return { granted: d.granted, rule: ruleRef(config, d.rule), by: d.rule === null ? 'deny' : 'acl' };
  }
  // Labels not recorded (ldap_auth, oidc_auth, jwt_auth, ext_auth), or the client address not
  // known: decided only when no rule that could decide needs them.
  for (const e of config.acl.explain({
    ...request,
    ...(ipUnknown ? {} : { ip }),
    ...(labels ? { labels } : {}),
  })) {
    if (e.match === 'no') continue;
    if (e.match === 'depends') {
      if (ipUnknown && e.conditions.includes('ip')) {
        return {
          undetermined: `the config trusts ${entry.ip} as a proxy now, the audit line does not hold the X-Forwarded-For the server would read the client from, and acl[${e.index}] matches on ip`,
        };
      }
      return {
        undetermined: `labels of ${shown(entry.authenticator)} accounts are not in the audit line, and acl[${e.index}] matches on ${e.conditions.join(', ')}`,
      };
    }
    return { granted: e.granted, rule: ruleRef(config, e.index), by: 'acl' };
  }
  if (asksExtAuthz(config, entry.service))
    return { undetermined: 'no ACL rule matches and ext_authz decides' };
  return { granted: [], rule: null, by: 'deny' };
}

/**
 * The decision for an account the config can no longer log in, or undefined: a backend that is
 * no longer configured (another online backend may know the account: not re-decided), and the
 * anonymous account without a `""` entry that takes no password (and without ext_auth, the one
 * other backend that may log in a request without credentials). The audit line does not say
 * whether an anonymous request sent a password: when `""` now takes one, it is not re-decided.
 */
function goneAccount(
  config: Config,
  entry: Entry,
  previous?: Config,
): Decided | { undetermined: string } | undefined {
  const refused: Decided = { granted: [], rule: null, by: 'unauthenticated' };
  const backend = entry.authenticator;
  if (entry.grant === 'refresh_token') return refreshRefused(config, entry, previous) ? refused : undefined;
  if (entry.grant === 'password' && entry.account === '') {
    // As check and test decide it (anonymousRefused); a `""` entry that takes a password still
    // logs in the requests that sent it, which the line does not tell.
    if (!anonymousRefused(config, '', offlineLabels(config, ''))) return undefined;
    const anonymous = config.users?.get('') ?? config.users_file?.users.get('');
    if (anonymous === undefined) return refused;
    return {
      undetermined:
        'the "" account takes a password now: requests without credentials get 401, and the audit line does not say whether these sent one',
    };
  }
  if (!(ONLINE_BACKENDS as readonly string[]).includes(backend)) return undefined;
  if (config[backend as (typeof ONLINE_BACKENDS)[number]] !== undefined) return undefined;
  if (ONLINE_BACKENDS.some((s) => config[s] !== undefined)) {
    return { undetermined: `${backend} is no longer configured; another backend may know the account` };
  }
  return refused;
}

/**
 * Whether the server refuses a refresh grant of this account under `config`: a refresh token
 * comes back only through the backend that vouched for it, the first in the chain that holds the
 * account (a static backend before it that holds it now takes the account over), and, for a
 * static account, with the password hash it was issued under (known here from `previous`, whose
 * refresh grants the comparison takes as honoured; the audit line does not hold it).
 */
function refreshRefused(config: Config, entry: Entry, previous: Config | undefined): boolean {
  const backend = entry.authenticator;
  const refresh = config.token.refresh;
  if (refresh === undefined) return true;
  // Revoked: every token these requests used was issued before the last of them.
  const revoked = revokedBefore(refresh.revokeBefore, entry.account);
  if (revoked !== undefined && entry.lastSeen !== null && Date.parse(entry.lastSeen) < revoked * 1000) {
    return true;
  }
  // A new secret decrypts none of the tokens the previous one issued.
  // (Only between secrets both configs name and this machine holds.)
  const before = previous?.token.refresh;
  if (
    before !== undefined &&
    before.secretStandsIn !== true &&
    refresh.secretStandsIn !== true &&
    before.secret.reveal() !== refresh.secret.reveal()
  ) {
    return true;
  }
  const statics = [
    ['users', (c: Config) => c.users?.get(entry.account)],
    ['users_file', (c: Config) => c.users_file?.users.get(entry.account)],
  ] as const;
  for (const [name, lookUp] of statics) {
    const user = lookUp(config);
    if (name !== backend) {
      if (user !== undefined) return true;
      continue;
    }
    if (user === undefined) return true;
    const before = previous ? lookUp(previous) : undefined;
    return before !== undefined && before.passwordHash !== user.passwordHash;
  }
  if (backend === 'ldap_auth') {
    // Without a service account (initial_bind_as_user) the directory cannot be asked without the
    // password: no refresh token comes back.
    return config.ldap_auth === undefined || config.ldap_auth.initialBindAsUser;
  }
  if (backend === 'oidc_auth') {
    // An app password's refresh token is bound to the secret and the account's not_before.
    const now = config.oidc_auth;
    if (now === undefined) return true;
    const then = previous?.oidc_auth;
    const folded = foldAccountName(entry.account);
    return (
      then !== undefined &&
      (then.secret.reveal() !== now.secret.reveal() ||
        (then.notBefore.get(folded) ?? 0) !== (now.notBefore.get(folded) ?? 0))
    );
  }
  // ext_auth and jwt_auth logins get no refresh token.
  return (ONLINE_BACKENDS as readonly string[]).includes(backend);
}

function recorded(entry: Entry): Decided {
  const { granted, rule, comment, byExtAuthz } = entry.recorded;
  return {
    granted: [...granted].sort(),
    rule:
      rule === null
        ? null
        : { index: rule, path: `acl[${rule}]`, ...(comment === undefined ? {} : { comment }) },
    // Lines written before the authorizer was recorded: a grant without a rule was ext_authz's.
    by: rule !== null ? 'acl' : byExtAuthz || granted.length > 0 ? 'ext_authz' : 'deny',
  };
}

function ruleRef(config: Config, index: number | null): RuleRef | null {
  if (index === null) return null;
  const info = config.acl.rules[index]!;
  return { index, path: info.path, ...(info.comment === undefined ? {} : { comment: info.comment }) };
}

function parseScope(text: string): Scope | undefined {
  try {
    const scopes = parseScopes([text]);
    return scopes.length === 1 ? scopes[0] : undefined;
  } catch (err) {
    if (err instanceof BadRequestError) return undefined;
    throw err;
  }
}

interface AuditLine {
  readonly account: string;
  readonly ip: string | null;
  readonly via: string | null;
  readonly grant: string;
  readonly service: string;
  readonly authenticator: string;
  readonly labels: Labels | undefined;
  /** A key for the labels part of a distinct decision. */
  readonly labelsKey: string;
  readonly time: string | null;
  readonly decisions: {
    scope: string;
    granted: string[];
    rule: number | null;
    comment: string | undefined;
    /** Recorded when ext_authz decided (no ACL rule matched). */
    byExtAuthz: boolean;
  }[];
}

/**
 * One log line: an AuditLine for a token request with decisions, null for any other log line
 * (failed logins, bad requests, server messages), or the reason it is malformed. Reads the fields
 * of the audit line (src/pipeline/audit.ts); never the logger's own keys, and any `outcome` is accepted.
 */
export function parseAuditLine(line: string): AuditLine | null | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const r = value as Record<string, unknown>;
  if (r['decisions'] === undefined) return null;
  const decisions = r['decisions'];
  if (!Array.isArray(decisions)) return 'decisions is not a list';
  if (typeof r['account'] !== 'string') return 'account is not a string';
  const client = r['client'];
  const ip =
    client !== null && typeof client === 'object' ? (client as Record<string, unknown>)['ip'] : undefined;
  if (ip !== null && typeof ip !== 'string') return 'client.ip is not a string or null';
  const via =
    client !== null && typeof client === 'object' ? (client as Record<string, unknown>)['via'] : undefined;
  if (via !== undefined && via !== null && typeof via !== 'string')
    return 'client.via is not a string or null';
  // Lines written before the grant was recorded were password logins.
  const grant = r['grant'] ?? 'password';
  if (typeof grant !== 'string') return 'grant is not a string';
  // The request's service; `""` when the client sent none.
  const service = r['service'] ?? '';
  if (typeof service !== 'string') return 'service is not a string';
  const authenticator = r['authenticator'];
  if (typeof authenticator !== 'string') return 'authenticator is not a string';
  const labels = r['labels'] === undefined ? undefined : asLabels(r['labels']);
  if (labels === null) return 'labels is not a mapping of lists of strings';
  const time = typeof r['time'] === 'string' ? r['time'] : null;
  const out: AuditLine['decisions'] = [];
  for (const [i, d] of decisions.entries()) {
    if (d === null || typeof d !== 'object') return `decisions[${i}] is not an object`;
    const { scope, granted, rule, comment, authorizer } = d as Record<string, unknown>;
    if (typeof scope !== 'string') return `decisions[${i}].scope is not a string`;
    if (!Array.isArray(granted) || !granted.every((g) => typeof g === 'string')) {
      return `decisions[${i}].granted is not a list of actions`;
    }
    if (rule !== null && !(typeof rule === 'number' && Number.isInteger(rule) && rule >= 0)) {
      return `decisions[${i}].rule is not a rule index or null`;
    }
    out.push({
      scope,
      granted: granted as string[],
      rule: rule as number | null,
      comment: typeof comment === 'string' ? comment : undefined,
      byExtAuthz: authorizer === 'ext_authz',
    });
  }
  return {
    account: r['account'],
    ip: ip ?? null,
    via: via ?? null,
    grant,
    service,
    authenticator,
    labels,
    labelsKey: labels ? JSON.stringify(Object.entries(labels).sort()) : `by ${authenticator}`,
    time,
    decisions: out,
  };
}

function asLabels(value: unknown): Labels | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  for (const v of Object.values(value)) {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return null;
  }
  return value as Labels;
}

/**
 * The lines of a source in batches (one per chunk read), decompressed when it starts with the
 * gzip magic bytes; null for a line
 * longer than MAX_LINE_BYTES (skipped without holding it). A read or gzip error ends it (thrown).
 */
export async function* readLines(source: AuditSource): AsyncGenerator<(string | null)[]> {
  const raw = source.open ? source.open() : createReadStream(source.name, { highWaterMark: 1 << 20 });
  const iterator = raw[Symbol.asyncIterator]();
  // Peek at the first bytes without losing them.
  const head: Buffer[] = [];
  let headLength = 0;
  let done = false;
  while (headLength < 2) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head.push(chunk);
    headLength += chunk.length;
  }
  const first = Buffer.concat(head);
  async function* bytes(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    }
  }
  const gzip = first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b;
  const stream: AsyncIterable<Buffer> = gzip ? Readable.from(bytes()).pipe(createGunzip()) : bytes();

  const decoder = new StringDecoder('utf8');
  let pending = '';
  let tooLong = false;
  for await (const chunk of stream) {
    const text = pending + decoder.write(chunk);
    const batch: (string | null)[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      if (tooLong) {
        tooLong = false;
        batch.push(null);
      } else batch.push(stripCr(text.slice(start, nl)));
      start = nl + 1;
    }
    pending = text.slice(start);
    if (pending.length > MAX_LINE_BYTES) {
      tooLong = true;
      pending = '';
    }
    if (batch.length > 0) yield batch;
  }
  pending += decoder.end();
  if (tooLong) yield [null];
  else if (pending !== '') yield [stripCr(pending)];
}

const stripCr = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);

const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

/** A rule as the report names it: its path, and its comment quoted. */
function ruleName(rule: { readonly path: string; readonly comment?: string | undefined }): string {
  return `${rule.path}${rule.comment === undefined ? '' : ` ${quoteText(rule.comment)}`}`;
}

function describeRule(d: Decided): string {
  if (d.rule) return ruleName(d.rule);
  if (d.by === 'ext_authz') return 'ext_authz';
  if (d.by === 'unauthenticated') return 'account no longer configured';
  if (d.by === 'service') return 'service refused (token.services)';
  if (d.by === 'refresh') return 'refresh tokens refused (no token.refresh)';
  return 'no rule';
}

/**
 * The progress line of a replay on a terminal: `replay: 1,200,000 lines read (audit.log.1.gz)`,
 * the file named as the report names it (a name's control characters escaped).
 */
export function progressText(lines: number, file: string): string {
  return `replay: ${lines.toLocaleString('en-US')} lines read (${shown(file)})`;
}

/**
 * A value read from a line as the report shows it: as it is when it is plain printable ASCII,
 * else quoted with every control and invisible character escaped. Anyone who can ask for a token
 * chooses some of them (the service, the account name), and a terminal must not read them as
 * its own controls (a line erased, a report line forged).
 */
function shown(text: string): string {
  return /^[\x21-\x7e]*$/.test(text) && !/["\\]/.test(text) && text !== '(anonymous)'
    ? text
    : quoteAccount(text);
}

const who = (account: string) => (account === '' ? '(anonymous)' : shown(account));

function describeDecision(d: ReplayedDecision): string {
  const context = [
    d.service === '' ? '' : `service ${shown(d.service)}`,
    d.ip === null ? '' : `from ${shown(d.ip)}`,
    d.via === null ? '' : `through ${shown(d.via)}`,
    d.grant === 'password' ? '' : `${shown(d.grant)} grant`,
  ].filter((x) => x !== '');
  return `${who(d.account)} ${shown(d.scope)}${context.length > 0 ? ` (${context.join(', ')})` : ''}`;
}

const actions = (granted: readonly string[]) => (granted.length === 0 ? '(nothing)' : granted.join(','));
const last = (time: string | null) => (time === null ? '' : `, last ${shown(time)}`);

function formatGroup(name: string, g: GroupCount): string {
  return `  ${name}: ${plural(g.decisions, 'decision')}, ${plural(g.requests, 'request')} (${g.lost} lose, ${g.gained} gain)${last(g.lastSeen)}`;
}

/** The text report: what changes, grouped by rule and by account, then what could not be replayed. */
/**
 * Why a replay compared nothing, for stderr (its exit is 2, not the 0 of "no decision changes"), or
 * undefined when it compared at least one decision.
 */
export function nothingReplayed(report: ReplayReport): string | undefined {
  if (report.redecided > 0) return undefined;
  if (report.distinct > 0) {
    return `nothing was re-decided: none of the ${plural(report.distinct, 'distinct decision')} could be decided again (see "not re-decided")`;
  }
  if (report.requests > 0) {
    return `nothing was re-decided: ${plural(report.requests, 'token request')} read, none asking for a scope (a login such as docker login's asks for none)`;
  }
  const why = [
    ...(report.malformed > 0 ? [`${report.malformed} malformed`] : []),
    ...(report.skipped > 0 ? [`${report.skipped} skipped (not a token request with decisions)`] : []),
    ...(report.overLimit > 0 ? [`${plural(report.overLimit, 'scope decision')} beyond the limit`] : []),
  ];
  return `nothing was re-decided: ${plural(report.lines, 'line')} read, no audit line of a token request with decisions${why.length > 0 ? ` (${why.join(', ')})` : ''}; is this regauth's audit log, one JSON object per line?`;
}

export function formatReplay(report: ReplayReport): string {
  const out: string[] = [];
  out.push(
    `replayed ${plural(report.lines, 'line')}: ${plural(report.requests, 'token request')} with decisions, ${plural(report.distinct, 'distinct decision')}; compared with the ${report.comparedWith === 'config' ? '--against config' : 'recorded decisions'}`,
  );
  const lose = report.changes.filter((c) => c.lost.length > 0);
  const gain = report.changes.filter((c) => c.gained.length > 0);
  if (report.changes.length === 0) out.push('no decision changes');
  else {
    const requests = report.changes.reduce((n, c) => n + c.count, 0);
    out.push(
      `${plural(report.changes.length, 'decision')} change (${plural(requests, 'request')}): ${lose.length} lose access, ${gain.length} gain access`,
    );
  }
  const line = (c: ReplayChange) =>
    `  ${describeDecision(c)}: ${actions(c.before.granted)} -> ${actions(c.after.granted)}; ${describeRule(c.before)} -> ${describeRule(c.after)}; ${plural(c.count, 'request')}${last(c.lastSeen)}`;
  if (lose.length > 0) out.push('', 'lose access (granted before, not now):', ...lose.map(line));
  if (gain.length > 0) out.push('', 'gain access (granted now, not before):', ...gain.map(line));
  if (report.changes.length > 0) {
    out.push('', 'by rule (deciding now):');
    for (const g of report.byRule) {
      const name = g.rule ? ruleName(g.rule) : 'no rule';
      out.push(formatGroup(name, g));
    }
    out.push('', 'by account:');
    for (const g of report.byAccount) out.push(formatGroup(who(g.account), g));
  }
  if (report.undetermined.length > 0) {
    const requests = report.undetermined.reduce((n, u) => n + u.count, 0);
    out.push(
      '',
      `not re-decided: ${plural(report.undetermined.length, 'decision')} (${plural(requests, 'request')})`,
    );
    for (const u of report.undetermined) out.push(`  ${describeDecision(u)}: ${u.reason}`);
  }
  if (report.overLimit > 0) {
    out.push(
      '',
      `not replayed: ${plural(report.overLimit, 'scope decision')} beyond the distinct-decision limit`,
    );
  }
  if (report.malformed > 0) {
    out.push('', `malformed: ${plural(report.malformed, 'line')}`);
    for (const m of report.malformedLines) out.push(`  ${shown(m.file)}:${m.line}: ${m.reason}`);
    if (report.malformedLines.length < report.malformed) {
      out.push(`  … and ${report.malformed - report.malformedLines.length} more`);
    }
  }
  return `${out.join('\n')}\n`;
}
