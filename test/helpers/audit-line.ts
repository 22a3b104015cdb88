/**
 * One audit line of a granted token request, as `regauth serve` writes it (src/pipeline/audit.ts),
 * for the tests of `regauth replay`: alice pulling `repository:alice/app:pull` from 10.0.0.1 on
 * the service `registry.test`, decided by acl[0]; `fields` replace any of it.
 */
export function auditLine(fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    level: 30,
    time: '2026-12-03T10:00:00.000Z',
    app: 'regauth',
    requestId: 'r1',
    method: 'GET',
    client: { ip: '10.0.0.1', via: null },
    outcome: 'granted',
    status: 200,
    grant: 'password',
    service: 'registry.test',
    account: 'alice',
    requested: ['repository:alice/app:pull'],
    authenticator: 'users',
    granted: ['repository:alice/app:pull'],
    decisions: [{ scope: 'repository:alice/app:pull', granted: ['pull'], rule: 0 }],
    ms: 1,
    msg: 'token issued',
    ...fields,
  });
}
