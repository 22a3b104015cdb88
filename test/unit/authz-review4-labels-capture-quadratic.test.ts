import { RE2JS } from 're2js';
import { afterEach, expect, test, vi } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';

// Found by a review of d19f335 (pattern.ts compilePattern `labelsPattern`, RAW_IN_LABELS; compileRegex `theirs`).
// d19f335 brings docker_auth's reading back into `labels` patterns whenever they hold a capture,
// on the grounds that "captures come from request fields (<= 256 characters), so the reading stays
// linear in the label value". But the RE2 text it builds (expandAsDockerAuth) also holds the
// pattern's OTHER placeholders, escaped: a `${labels:g}` beside the capture puts a whole label
// value (any length, from the account's backend) into the RE2 program, which is then searched
// over every value of the checked label -- label value against label value, the quadratic case
// f99f54d removed (authz-review2-glob-reading-quadratic). The reading runs as soon as the capture
// holds regex syntax: a `.` in the account (`a.b@corp`) is enough. Before d19f335 a labels pattern
// had no reading at all (0 RE2 work here).
// Counted: reads of RE2 program instructions (re2js Machine.step/add, DFA, backtracker all index
// prog.inst) while deciding one scope; doubling both label values must not quadruple them.
// Measured, not asserted: k = 4,000 (12 KB values) -> ~0.45 s for one labels value pair.
// A fix: in a labels pattern, run docker_auth's reading only when its text holds no label value
// (no `${labels:…}` in the pattern), or bound it (RE2 program size x value length over a budget:
// Unmatchable), as for the glob reading.

afterEach(() => vi.restoreAllMocks());

const acl = compileAcl([
  {
    match: { account: '/^(.+)@corp$/', name: '${account:1}/*', labels: { h: '/${account:1}${labels:g}/' } },
    actions: [],
  },
  { match: {}, actions: ['pull'] },
]);

function instructionReads(k: number): number {
  const g = 'a.b'.repeat(k) + 'X';
  const request = {
    account: 'a.b@corp',
    type: 'repository',
    name: 'a.b/app',
    service: 'registry',
    ip: null,
    actions: ['pull'],
    // h holds g, so re2js' literal prefilter passes, but not `a.b` + g: no match either way.
    labels: { g: [g], h: [`zzb${g}`] },
  };
  let count = 0;
  const compile = RE2JS.compile.bind(RE2JS);
  vi.spyOn(RE2JS, 'compile').mockImplementation((...args: Parameters<typeof RE2JS.compile>) => {
    const re = compile(...args);
    const prog = (re as unknown as { re2Input: { prog: { inst: object[] } } }).re2Input.prog;
    prog.inst = new Proxy(prog.inst, {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) count++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    return re;
  });
  expect(acl.authorize(request)).toEqual({ granted: ['pull'], rule: 1 });
  vi.restoreAllMocks();
  return count;
}

test('one labels value against another: work linear in their size', () => {
  const small = instructionReads(500);
  const large = instructionReads(1000);
  // Today: grows ~4x for 2x (quadratic); before d19f335 both were 0 (no reading in labels).
  expect(large / Math.max(small, 1)).toBeLessThan(3);
});
