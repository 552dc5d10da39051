/** Ranges this short are finished by insertion sort. */
const SMALL = 12;

/**
 * Sorts `items` in place by `key`, in the order of JavaScript's `<` on strings (UTF-16
 * code units), equal keys ordered by `tie`. The result is what `items.sort(...)` with the
 * comparator "key, then tie" gives; the algorithm is a multikey quicksort (Bentley and
 * Sedgewick, 1997), which looks at each character of a shared prefix once per partition
 * rather than once per comparison. Mangled C++ names share long prefixes (`_ZN4llvm…`),
 * which makes it two to three times quicker than a comparator sort on a large library.
 * Pivots are chosen at random, so no input is slow by construction, and the
 * stack is explicit, so long shared prefixes cannot overflow it.
 */
export function sortByStringKey<T>(items: T[], key: (item: T) => string, tie: (a: T, b: T) => number): void {
  const n = items.length;
  if (n < 2) return;
  const keys = items.map(key);
  const vals = items.slice();
  // Pending ranges as (lo, hi, depth) triples; keys in a range agree on `depth` characters.
  const stack: number[] = [0, n, 0];
  while (stack.length > 0) {
    const d = stack.pop()!;
    const hi = stack.pop()!;
    const lo = stack.pop()!;
    if (hi - lo < SMALL) {
      insertionSort(keys, vals, lo, hi, tie);
      continue;
    }
    const pivotKey = keys[lo + Math.floor(Math.random() * (hi - lo))]!;
    const p = d < pivotKey.length ? pivotKey.charCodeAt(d) : -1;
    const lt = partition(keys, vals, lo, hi, d, p);
    const gt = partitionEnd;
    stack.push(lo, lt, d, gt, hi, d);
    if (p >= 0) {
      stack.push(lt, gt, d + 1);
    } else if (gt - lt > 1) {
      // Every key in [lt, gt) ended at d: they are equal, and only `tie` orders them.
      const run = vals.slice(lt, gt).sort(tie);
      for (let k = 0; k < run.length; k++) vals[lt + k] = run[k]!;
    }
  }
  for (let i = 0; i < n; i++) items[i] = vals[i]!;
}

// The loops are functions of their own, each optimized as a whole once hot; as one
// function they were compiled on-stack and thrown away each time a new path ran.

/** End of the middle range of the last `partition`. */
let partitionEnd = 0;

/**
 * Three-way partition of [lo, hi) on character d (-1 past the end) against p: returns
 * lt and sets partitionEnd to gt, for [lo, lt) below p, [lt, gt) equal, [gt, hi) above.
 */
function partition<T>(keys: string[], vals: T[], lo: number, hi: number, d: number, p: number): number {
  let lt = lo;
  let gt = hi;
  let i = lo;
  while (i < gt) {
    const k = keys[i]!;
    const c = d < k.length ? k.charCodeAt(d) : -1;
    if (c < p) {
      const v = vals[i]!;
      keys[i] = keys[lt]!;
      vals[i] = vals[lt]!;
      keys[lt] = k;
      vals[lt] = v;
      lt++;
      i++;
    } else if (c > p) {
      gt--;
      const v = vals[i]!;
      keys[i] = keys[gt]!;
      vals[i] = vals[gt]!;
      keys[gt] = k;
      vals[gt] = v;
    } else {
      i++;
    }
  }
  partitionEnd = gt;
  return lt;
}

/** Insertion sort of [lo, hi) on the whole keys (cheap for a short range). */
function insertionSort<T>(keys: string[], vals: T[], lo: number, hi: number, tie: (a: T, b: T) => number): void {
  for (let i = lo + 1; i < hi; i++) {
    const k = keys[i]!;
    const v = vals[i]!;
    let j = i;
    for (; j > lo; j--) {
      const pk = keys[j - 1]!;
      if (pk < k || (pk === k && tie(vals[j - 1]!, v) <= 0)) break;
      keys[j] = pk;
      vals[j] = vals[j - 1]!;
    }
    keys[j] = k;
    vals[j] = v;
  }
}
