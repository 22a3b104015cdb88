import type { CompiledAcl } from './acl.js';
import type { Labels } from './types.js';
import type { Scope } from '../request/scope.js';

/** One distinct decision the server made: who, from where, for what, and what it granted. */
interface Recent {
  readonly account: string;
  readonly labels: Labels;
  readonly ip: string | null;
  readonly service: string;
  readonly scope: Scope;
  granted: readonly string[];
}

/** What a reload changes among the recent decisions (RecentDecisions.compare). */
export interface ReloadComparison {
  /** Decisions compared (those `ext_authz` decided are left out: the command is not run again). */
  readonly compared: number;
  /** Decisions whose granted actions change. */
  readonly changed: number;
  /** Decisions that now grant fewer actions / more actions (one that does both counts in both). */
  readonly fewer: number;
  readonly more: number;
  /** Per rule deciding now (`acl[2] "comment"`, or `no rule`): fewer and more grants. */
  readonly byRule: ReadonlyMap<string, { fewer: number; more: number }>;
}

/**
 * A bounded ring of the last `max` distinct decisions (account, labels, client address,
 * service, scope), so a reload can tell what it changes for recent traffic (docs/operations.md
 * "Reload"). A decision seen again moves to the newest end; the oldest goes when full.
 * Labels are held as the backend reported them; never a password or token.
 */
export class RecentDecisions {
  #max: number;
  readonly #entries = new Map<string, Recent>();

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Changes the bound; the oldest entries go when it shrinks. */
  resize(max: number): void {
    this.#max = max;
    this.#trim();
  }

  record(d: {
    account: string;
    labels: Labels;
    ip: string | null;
    service: string;
    scope: Scope;
    granted: readonly string[];
    /** ext_authz decided: not kept (a reload cannot re-decide it without running the command). */
    byExt: boolean;
  }): void {
    if (this.#max === 0 || d.byExt) return;
    const key = JSON.stringify([
      d.account,
      d.ip,
      d.service,
      d.scope.type,
      d.scope.name,
      d.scope.actions,
      d.labels,
    ]);
    this.#entries.delete(key);
    this.#entries.set(key, {
      account: d.account,
      labels: d.labels,
      ip: d.ip,
      service: d.service,
      scope: d.scope,
      granted: d.granted,
    });
    this.#trim();
  }

  /**
   * Decides every recent decision again with `acl` and counts those whose granted actions
   * change; they then hold the new decision, so the next reload compares with this config.
   * Scopes no rule matches are left as they were where `asksExtAuthz` says ext_authz decides
   * them (for their service).
   */
  compare(acl: CompiledAcl, asksExtAuthz: (service: string) => boolean): ReloadComparison {
    let compared = 0;
    let changed = 0;
    let fewer = 0;
    let more = 0;
    const byRule = new Map<string, { fewer: number; more: number }>();
    for (const entry of this.#entries.values()) {
      const d = acl.authorize({
        account: entry.account,
        type: entry.scope.type,
        name: entry.scope.name,
        service: entry.service,
        ip: entry.ip,
        labels: entry.labels,
        actions: entry.scope.actions,
      });
      if (d.rule === null && asksExtAuthz(entry.service)) continue;
      compared++;
      const lost = entry.granted.some((a) => !d.granted.includes(a));
      const gained = d.granted.some((a) => !entry.granted.includes(a));
      entry.granted = d.granted;
      if (!lost && !gained) continue;
      changed++;
      const info = d.rule === null ? undefined : acl.rules[d.rule];
      const rule = info
        ? `${info.path}${info.comment === undefined ? '' : ` ${JSON.stringify(info.comment)}`}`
        : 'no rule';
      const counts = byRule.get(rule) ?? { fewer: 0, more: 0 };
      if (lost) {
        fewer++;
        counts.fewer++;
      }
      if (gained) {
        more++;
        counts.more++;
      }
      byRule.set(rule, counts);
    }
    return { compared, changed, fewer, more, byRule };
  }

  #trim(): void {
    while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }
}

/** `reload changes 12 of 340 recent decisions: 9 fewer grants (acl[2] "team": 9), 3 more grants (no rule: 3)`. */
export function describeComparison(c: ReloadComparison): string {
  if (c.changed === 0) return `reload changes none of ${c.compared} recent decisions`;
  const part = (n: number, what: 'fewer' | 'more') => {
    const rules = [...c.byRule]
      .filter(([, r]) => r[what] > 0)
      .sort((a, b) => b[1][what] - a[1][what])
      .map(([rule, r]) => `${rule}: ${r[what]}`);
    return `${n} ${what} grants (${rules.join(', ')})`;
  };
  const parts = [c.fewer > 0 ? part(c.fewer, 'fewer') : '', c.more > 0 ? part(c.more, 'more') : ''];
  return `reload changes ${c.changed} of ${c.compared} recent decisions: ${parts.filter((p) => p !== '').join(', ')}`;
}
