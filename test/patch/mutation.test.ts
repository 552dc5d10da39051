// The rewriter's planner on mutated real ELF files, in every layout: it returns a plan or
// rejects the file with PatchError or ElfError, never another exception; a plan it returns
// stays within bounds (writes inside the new size, growth bounded by the input).
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BufferSource, ElfError, ElfFile } from "../../src/elf/index.js";
import { PatchError } from "../../src/errors.js";
import { LAYOUTS, planPatch, type Edit } from "../../src/patch/index.js";
import { apply, mutation } from "../support/mutation.js";

const fixtures = new URL("../../testdata/fixtures/", import.meta.url).pathname;
const names = ["x86_64/prog", "x86_64/prog-nopie", "x86_64/libvers.so.1", "i386/prog-nopie", "aarch64/prog", "ppc64/libvers.so.1", "s390x/prog-nopie"];
const byName = new Map(names.map((n) => [n, new Uint8Array(readFileSync(fixtures + n))]));
const LONG = "/opt/a/runpath/long/enough/to/need/more/room/than/the/table/has/in/any/of/these/files";
// Edits that grow every table: interpreter, .dynstr, .dynamic.
const EDITS: Edit[][] = [
  [{ op: "set-search-path", paths: [LONG], kind: "runpath" }],
  [{ op: "set-interpreter", path: `${LONG}/ld.so` }, { op: "add-runpath", path: LONG }],
  [{ op: "add-needed", name: "libabilink-mutant.so.1" }, { op: "set-soname", name: `lib${"x".repeat(300)}.so` }],
];

describe("planPatch on mutated real ELF files", () => {
  it("plans or rejects with PatchError/ElfError, in bounds, in every layout", () => {
    fc.assert(
      fc.property(fc.constantFrom(...names), mutation, fc.constantFrom(...EDITS), fc.constantFrom(...LAYOUTS), (name, m, edits, layout) => {
        const bytes = apply(byName.get(name)!, m);
        try {
          const plan = planPatch(ElfFile.parse(new BufferSource(bytes)), edits, { layout });
          // The largest growth: a copy of the tables, or the shift (at most 16 MiB, a page multiple).
          expect(plan.newSize).toBeLessThanOrEqual(2 * bytes.length + (17 << 20));
          for (const w of plan.writes) {
            expect(w.offset).toBeGreaterThanOrEqual(0);
            expect(w.offset + w.bytes.length).toBeLessThanOrEqual(plan.newSize);
          }
        } catch (e) {
          if (!(e instanceof PatchError) && !(e instanceof ElfError)) {
            throw new Error(`planner threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`);
          }
        }
      }),
      { numRuns: 5000 },
    );
  });
});
