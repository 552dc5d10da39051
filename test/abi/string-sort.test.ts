import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sortByStringKey } from "../../src/abi/string-sort.js";

interface Item {
  key: string;
  tie: number;
}

const byComparator = (a: Item, b: Item) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.tie - b.tie);
const tie = (a: Item, b: Item) => a.tie - b.tie;

// Keys drawn to stress a multikey quicksort: long shared prefixes (mangled C++ names), one
// key a prefix of another, duplicates ordered only by the tie-break, and UTF-16 code units
// beyond ASCII, surrogate halves included (the order is that of `<`, code unit by code unit).
const keyArb = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.tuple(fc.constantFrom("", "_ZN4llvm", "_ZN4llvm3sys", "_ZN4llvm3sys2fs"), fc.string({ unit: fc.constantFrom("a", "b", "E", "\u00e9", "\ud83d", "\ude00", "\uffff"), maxLength: 8 })).map(([p, s]) => p + s),
);
const itemsArb = fc.array(fc.record({ key: keyArb, tie: fc.integer({ min: 0, max: 3 }) }), { maxLength: 400 });

describe("sortByStringKey", () => {
  it("orders as Array.prototype.sort with the comparator 'key by <, then tie'", () => {
    fc.assert(
      fc.property(itemsArb, (items) => {
        const mine = items.slice();
        sortByStringKey(mine, (i) => i.key, tie);
        const expected = items.slice().sort(byComparator);
        expect(mine.map((i) => [i.key, i.tie])).toEqual(expected.map((i) => [i.key, i.tie]));
        // A permutation of the input: every object once.
        expect(new Set(mine).size).toBe(new Set(items).size);
      }),
      { numRuns: 500 },
    );
  });

  it("sorts large inputs of long shared prefixes and many equal keys", () => {
    const items: Item[] = [];
    for (let i = 0; i < 20000; i++) {
      items.push({ key: `_ZN4llvm${"x".repeat(i % 97)}${(i * 7919) % 5003}E`, tie: i % 5 });
      if (i % 10 === 0) items.push({ key: "_ZN4llvm", tie: i % 7 });
    }
    const mine = items.slice();
    sortByStringKey(mine, (i) => i.key, tie);
    expect(mine).toEqual(items.slice().sort(byComparator));
  });
});
