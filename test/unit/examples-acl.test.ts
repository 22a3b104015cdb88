import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig } from '../../src/authz/types.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('examples/ci-github-actions.yml', () => {
  // The rules alone: the example leaves token.key to `regauth serve` (a development key).
  const text = readFileSync(resolve(ROOT, 'examples/ci-github-actions.yml'), 'utf8');
  const acl = compileAcl((load(text) as { acl: AclRuleConfig[] }).acl);
  /** What a job's token grants on its own repository, by the event that started the job. */
  const grants = (event: string, ref = 'refs/heads/main') =>
    acl.authorize({
      account: 'acme/app',
      type: 'repository',
      name: 'acme/app/web',
      service: 'registry.example.com',
      ip: null,
      labels: { repository: ['acme/app'], repository_owner: ['acme'], ref: [ref], event_name: [event] },
      actions: ['pull', 'push'],
    }).granted;

  test('the main branch pushes', () => {
    for (const event of ['push', 'workflow_dispatch', 'schedule'])
      expect(grants(event)).toEqual(['pull', 'push']);
  });

  test('a job for a pull request only pulls, though its ref is the main branch', () => {
    // pull_request_target runs with the base branch's ref (refs/heads/main), and workflows
    // often check out the pull request's code: trusting `ref` alone let that code push.
    expect(grants('pull_request_target')).toEqual(['pull']);
    expect(grants('push', 'refs/heads/feature')).toEqual(['pull']);
  });
});
