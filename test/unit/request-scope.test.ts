import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { BadRequestError } from '../../src/core/errors.js';
import { parseScopes } from '../../src/request/scope.js';
import { isValidRepositoryName } from '../../src/request/reference.js';

describe('parseScopes', () => {
  test.each([
    [['repository:foo/bar:pull'], [{ type: 'repository', name: 'foo/bar', actions: ['pull'] }]],
    [['repository:foo/bar:push,pull'], [{ type: 'repository', name: 'foo/bar', actions: ['pull', 'push'] }]],
    // space-separated in one parameter (registry challenge, docker POST)
    [
      ['repository:a:pull repository:b:push'],
      [
        { type: 'repository', name: 'a', actions: ['pull'] },
        { type: 'repository', name: 'b', actions: ['push'] },
      ],
    ],
    // repeated and overlapping entries for one resource are merged (containerd)
    [
      ['repository:a:pull', 'repository:a:pull,push'],
      [{ type: 'repository', name: 'a', actions: ['pull', 'push'] }],
    ],
    // a host:port name keeps its colon
    [
      ['repository:localhost:5000/foo:pull'],
      [{ type: 'repository', name: 'localhost:5000/foo', actions: ['pull'] }],
    ],
    [['registry:catalog:*'], [{ type: 'registry', name: 'catalog', actions: ['*'] }]],
    // class is dropped: registry v2.8 would not match `repository(plugin)`
    [['repository(plugin):foo:pull'], [{ type: 'repository', name: 'foo', actions: ['pull'] }]],
    [['repository:a__b/c-d.e:delete'], [{ type: 'repository', name: 'a__b/c-d.e', actions: ['delete'] }]],
    [[], []],
    [[''], []],
  ])('%j', (input, expected) => {
    expect(parseScopes(input)).toEqual(expected);
  });

  test.each([
    ['repository:foo', 'malformed scope "repository:foo"; expected type:name:actions'],
    [':foo:pull', 'malformed scope ":foo:pull"; expected type:name:actions'],
    ['repository::pull', 'invalid repository name ""'],
    ['repository:Foo:pull', 'invalid repository name "Foo"'],
    ['repository:foo//bar:pull', 'invalid repository name "foo//bar"'],
    ['repository:foo/:pull', 'invalid repository name "foo/"'],
    ['repository:foo:', 'malformed actions "" in scope'],
    ['repository:foo:pull,', 'malformed actions "pull," in scope'],
    ['repository:foo:PULL', 'malformed actions "PULL" in scope'],
    ['Repo:foo:pull', 'malformed scope type "Repo"'],
    ['repository(:foo:pull', 'malformed scope type "repository("'],
    ['registry:cata/log:*', 'invalid registry name "cata/log"'],
  ])('%s is refused', (scope, message) => {
    const attempt = () => parseScopes([scope]);
    expect(attempt).toThrow(BadRequestError);
    expect(attempt).toThrow(message);
  });

  test('too many scopes is refused', () => {
    const many = Array.from({ length: 65 }, (_, i) => `repository:r${i}:pull`).join(' ');
    expect(() => parseScopes([many])).toThrow('too many scopes (at most 64)');
  });

  test('a huge name is refused and the message stays short', () => {
    const err = (() => {
      try {
        parseScopes([`repository:${'a'.repeat(300)}:pull`]);
      } catch (e) {
        return e as Error;
      }
      throw new Error('no error');
    })();
    expect(err.message.length).toBeLessThan(120);
  });

  test('arbitrary input either parses to valid scopes or throws BadRequestError', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 300 }), { maxLength: 5 }), (values) => {
        try {
          for (const s of parseScopes(values)) {
            expect(s.actions.length).toBeGreaterThan(0);
            if (s.type === 'repository') expect(isValidRepositoryName(s.name)).toBe(true);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(BadRequestError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('formatted scopes round-trip', () => {
    const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, { maxLength: 20 });
    fc.assert(
      fc.property(
        fc.array(component, { minLength: 1, maxLength: 4 }),
        fc.subarray(['delete', 'pull', 'push'], { minLength: 1 }),
        (parts, actions) => {
          const name = parts.join('/');
          fc.pre(name.length <= 255);
          expect(parseScopes([`repository:${name}:${actions.join(',')}`])).toEqual([
            { type: 'repository', name, actions: [...actions].sort() },
          ]);
        },
      ),
    );
  });
});
