/** A user's labels: each key holds one or more values (docker_auth's `labels: {group: [admins]}`). */
export type Labels = Readonly<Record<string, readonly string[]>>;

/** One requested scope, with who asks and from where: what an authorizer decides on. */
export interface AuthzRequest {
  readonly account: string;
  /** Resource type, e.g. `repository`, `registry`. */
  readonly type: string;
  /** Resource name, e.g. `library/ubuntu`, `catalog`. */
  readonly name: string;
  /** The requested `service` (token audience); `""` when absent. */
  readonly service: string;
  /** Client address, or null when unknown. */
  readonly ip: string | null;
  readonly labels: Labels;
  /** Requested actions, e.g. `['pull', 'push']`. */
  readonly actions: readonly string[];
}

/** What one authorizer granted for one scope. */
export interface AuthzDecision {
  /** Granted actions, sorted, a subset of the requested ones. */
  readonly granted: string[];
  /** 0-based index of the deciding ACL rule, or null when no rule matched (deny by default). */
  readonly rule: number | null;
  /** The deciding rule's comment, when it has one. */
  readonly comment?: string;
  /** Set when no ACL rule matched and `ext_authz` decided instead (src/authz/chain.ts). */
  readonly authorizer?: 'ext_authz';
}

/** An ACL rule as written in the config (already shape-checked by the schema). */
export interface AclRuleConfig {
  readonly match: {
    readonly account?: string;
    readonly type?: string;
    readonly name?: string;
    readonly service?: string;
    readonly ip?: string;
    readonly labels?: Readonly<Record<string, string>>;
  };
  readonly actions: readonly string[];
  readonly comment?: string;
}
