import fc from 'fast-check';
import { expect, test } from 'vitest';
import { sortedUnique } from '../../src/core/sorted.js';

test('sortedUnique sorts as Array.prototype.sort does and drops duplicates', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 4 }), { maxLength: 8 }), (values) => {
      expect(sortedUnique([...values])).toEqual([...new Set(values)].sort());
    }),
  );
});

test('a list already sorted and unique is returned as it is; any other is copied', () => {
  const sorted = ['pull', 'push'];
  expect(sortedUnique(sorted)).toBe(sorted);
  const unsorted = ['push', 'pull'];
  expect(sortedUnique(unsorted)).toEqual(['pull', 'push']);
  expect(unsorted).toEqual(['push', 'pull']);
  expect(sortedUnique(['pull', 'pull'])).toEqual(['pull']);
  expect(sortedUnique([])).toEqual([]);
});
