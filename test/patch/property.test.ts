// Random sequences of edits on real fixtures, in memory: after each edit the output reads
// back with exactly the expected values, and an edit followed by its inverse reads the
// same as the input.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BufferSource, ElfFile } from "../../src/elf/index.js";
import { LAYOUTS, type Edit } from "../../src/patch/index.js";
import { tableGroup } from "../../src/patch/edits.js";
import { patchBytes } from "../support/patching.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const FILES = ["x86_64/prog", "x86_64/prog-rpath", "x86_64/prog-nopie", "x86_64/libvers.so.1", "i386/prog-nopie", "aarch64/libvers.so.1", "ppc64/prog", "s390x/prog", "armhf/libvers.so.1"];

interface View {
  /** The file's class/machine directory in an indirection table (elf64-x86_64). */
  group: string;
  interp: string | null;
  needed: string[];
  rpath: string[];
  runpath: string[];
  /** Whether DT_RPATH / DT_RUNPATH entries exist (an empty one still decides where paths go). */
  has: { rpath: boolean; runpath: boolean };
  soname: string | null;
  verneed: string[];
  symbols: string[];
}

function view(bytes: Uint8Array): View {
  const elf = ElfFile.parse(new BufferSource(bytes));
  const d = elf.dynamic!;
  return {
    group: tableGroup(elf.header.class, elf.header.e_machine),
    interp: elf.interpreter,
    needed: d.needed,
    rpath: d.rpath,
    runpath: d.runpath,
    has: { rpath: d.entries.some((x) => x.d_tag === 15n), runpath: d.entries.some((x) => x.d_tag === 29n) },
    soname: d.soname,
    verneed: elf.versionRequirements.map((v) => `${v.file}:${v.versions.map((x) => x.name).join(",")}`),
    symbols: elf.dynamicSymbols.map((s) => `${s.name}@${s.version?.name ?? ""}`),
  };
}

const pathChars = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789/._-$".split(""));
const pathArb = fc.array(pathChars, { minLength: 1, maxLength: 90 }).map((a) => `/${a.join("")}`);
const nameArb = fc.array(fc.constantFrom(..."abcdefghijklmnop0123456789.-".split("")), { minLength: 1, maxLength: 40 }).map((a) => `lib${a.join("")}.so`);

const prefixArb = fc.constantFrom("/lib64", "/lib", "/usr", "/a", "/ab", "/lib6");

/** `p` with `from` replaced when it is a whole-component prefix of it (the model's own reading). */
function underPrefix(p: string, from: string): string | null {
  const parts = from.split("/");
  const have = p.split("/");
  return parts.every((x, i) => have[i] === x) ? have.slice(parts.length).join("/") : null;
}

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  pathArb.map((p) => ({ op: "set-interpreter", path: p }) as Edit),
  fc.array(pathArb, { maxLength: 3 }).map((ps) => ({ op: "set-search-path", paths: ps, kind: "runpath" }) as Edit),
  pathArb.map((p) => ({ op: "add-runpath", path: p }) as Edit),
  fc.constant({ op: "remove-runpath" } as Edit),
  nameArb.map((n) => ({ op: "add-needed", name: n }) as Edit),
  nameArb.map((n) => ({ op: "set-soname", name: n }) as Edit),
  fc.tuple(fc.constantFrom("libc.so.6", "libvers.so.1"), nameArb).map(([from, to]) => ({ op: "replace-needed", from, to }) as Edit),
  // Prefixes the fixtures' interpreters (/lib64/ld-…, /lib/ld-…) and random paths (/a…) start with, or nearly.
  fc.tuple(prefixArb, pathArb).map(([from, to]) => ({ op: "replace-prefix", from, to }) as Edit),
  fc.tuple(prefixArb, pathArb, fc.boolean()).map(
    ([from, table, named]) =>
      ({ op: "replace-prefix-into", from, table, groups: named ? { "elf64-x86_64": { "ld-linux-x86-64.so.2": "ld.so.x", "libc.so.6": "libc.so.6" }, "elf32-i386": { "ld-linux.so.2": "ld.so.i" } } : {} }) as Edit,
  ),
);

/** What `e` should do to the view (the model the reader is checked against). */
function expected(v: View, e: Edit): View {
  const n = structuredClone(v);
  const kinds = (["rpath", "runpath"] as const).filter((k) => n.has[k]);
  switch (e.op) {
    case "set-interpreter":
      if (n.interp !== null) n.interp = e.path;
      break;
    case "set-search-path":
      if (kinds.length === 0) {
        n.has.runpath = true;
        n.runpath = [...e.paths];
      }
      for (const k of kinds) n[k] = [...e.paths];
      break;
    case "add-runpath":
      if (kinds.length === 0) {
        n.has.runpath = true;
        n.runpath = [e.path];
      }
      for (const k of kinds) if (!n[k].includes(e.path)) n[k] = [...n[k], e.path];
      break;
    case "remove-runpath":
      n.rpath = [];
      n.runpath = [];
      n.has = { rpath: false, runpath: false };
      break;
    case "add-needed":
      if (!n.needed.includes(e.name)) n.needed = [...n.needed, e.name];
      break;
    case "set-soname":
      n.soname = e.name;
      break;
    case "replace-needed":
      n.needed = n.needed.map((x) => (x === e.from ? e.to : x));
      n.verneed = n.verneed.map((x) => (x.startsWith(`${e.from}:`) ? `${e.to}:${x.slice(e.from.length + 1)}` : x));
      break;
    case "replace-prefix":
    case "replace-prefix-into": {
      // A file: OLD/rest -> NEW/rest, or into the table: TABLE/lib/GROUP/(its entry for rest's last name).
      const file = (p: string) => {
        const rest = underPrefix(p, e.from);
        if (rest === null) return p;
        if (e.op === "replace-prefix") return rest === "" ? e.to : `${e.to}/${rest}`;
        const base = p.split("/").pop()!;
        return `${e.table}/lib/${n.group}/${e.groups[n.group]?.[base] ?? base}`;
      };
      if (n.interp !== null) n.interp = file(n.interp);
      for (const k of ["rpath", "runpath"] as const) {
        // Into a table: the table's directory once, where the first OLD entry stood (an entry already naming it, later, dropped).
        const dir = e.op === "replace-prefix-into" ? `${e.table}/lib/${n.group}` : "";
        const first = n[k].findIndex((p) => underPrefix(p, e.from) !== null);
        n[k] = n[k].flatMap((p, i) => {
          const rest = underPrefix(p, e.from);
          if (e.op === "replace-prefix") return [rest === null ? p : rest === "" ? e.to : `${e.to}/${rest}`];
          if (rest !== null) return i === first && !n[k].slice(0, i).includes(dir) ? [dir] : [];
          return p === dir && first >= 0 && i > first ? [] : [p];
        });
      }
      n.needed = n.needed.map((x) => (x.includes("/") ? file(x) : x));
      n.verneed = n.verneed.map((x) => {
        const at = x.lastIndexOf(":");
        const name = x.slice(0, at);
        return name.includes("/") ? `${file(name)}${x.slice(at)}` : x;
      });
      break;
    }
    default:
      break;
  }
  return n;
}

/** The edit that undoes `e` on a file whose view is `v`. */
function inverse(v: View, e: Edit): Edit[] {
  switch (e.op) {
    case "set-interpreter":
      return v.interp === null ? [] : [{ op: "set-interpreter", path: v.interp }];
    case "set-search-path":
    case "add-runpath":
    case "remove-runpath": {
      if (!v.has.rpath && !v.has.runpath) return [{ op: "remove-runpath" }];
      if (v.has.rpath && v.has.runpath) return [];
      const kind = v.has.rpath ? "rpath" : "runpath";
      if (e.op === "remove-runpath") return []; // the entry is gone; re-adding changes the table order
      return [{ op: "set-search-path", paths: v[kind], kind }];
    }
    case "add-needed":
      return v.needed.includes(e.name) ? [] : [{ op: "remove-needed", name: e.name }];
    case "set-soname":
      return v.soname === null ? [] : [{ op: "set-soname", name: v.soname }];
    case "replace-needed":
      return v.needed.includes(e.from) && !v.needed.includes(e.to) ? [{ op: "replace-needed", from: e.to, to: e.from }] : [];
    default:
      return [];
  }
}

describe("patch property: random edits read back as modelled", () => {
  for (const f of FILES) {
    const input = new Uint8Array(readFileSync(fx(f)));
    // Sequences in every layout: the slack (auto), a new segment, the shift (executables).
    for (const layout of LAYOUTS) {
      it(`${f}: sequences of edits (layout ${layout})`, () => {
        fc.assert(
          fc.property(fc.array(editArb, { minLength: 1, maxLength: 6 }), (edits) => {
            let bytes: Uint8Array = input;
            let model = view(bytes);
            for (const e of edits) {
              if (e.op === "set-interpreter" && model.interp === null) continue;
              if (e.op === "replace-needed" && model.needed.includes(e.to)) continue;
              bytes = patchBytes(bytes, [e], layout).bytes;
              model = expected(model, e);
              expect(view(bytes)).toEqual(model);
            }
          }),
          { numRuns: 40 },
        );
      });
    }
    it(`${f}: an edit and its inverse read the same as the input`, () => {
      const before = view(input);
      fc.assert(
        fc.property(editArb, (e) => {
          if (e.op === "set-interpreter" && before.interp === null) return;
          const undo = inverse(before, e);
          if (undo.length === 0) return;
          const once = patchBytes(input, [e]).bytes;
          const back = patchBytes(once, undo).bytes;
          expect(view(back)).toEqual(before);
          // Doing it again changes nothing and grows nothing.
          const again = patchBytes(once, [e]);
          expect(again.plan.writes).toEqual([]);
        }),
        { numRuns: 60 },
      );
    });
  }
});

describe("one patch with a field edited twice", () => {
  it("set-os-abi given twice (found by the stale-note property): the last value wins, no overlapping writes", () => {
    const input = new Uint8Array(readFileSync(fx("x86_64/prog")));
    const osabi = (b: Uint8Array) => b[7];
    expect(osabi(patchBytes(input, [{ op: "set-os-abi", value: 3 }, { op: "set-os-abi", value: 3 }]).bytes)).toBe(3);
    expect(osabi(patchBytes(input, [{ op: "set-os-abi", value: 9 }, { op: "set-os-abi", value: 3 }]).bytes)).toBe(3);
    const back = patchBytes(input, [{ op: "set-os-abi", value: 3 }, { op: "set-os-abi", value: 0 }]);
    expect([back.plan.changes, Buffer.from(back.bytes).equals(Buffer.from(input))]).toEqual([[], true]);
  });

  it("set-execstack then clear-execstack (found in review): nothing changes, no change reported", () => {
    const input = new Uint8Array(readFileSync(fx("x86_64/prog")));
    const back = patchBytes(input, [{ op: "set-execstack", executable: true }, { op: "set-execstack", executable: false }]);
    expect([back.plan.changes, Buffer.from(back.bytes).equals(Buffer.from(input))]).toEqual([[], true]);
    expect(patchBytes(input, [{ op: "set-execstack", executable: true }, { op: "set-execstack", executable: true }]).plan.changes).toEqual(["execstack: - -> X"]);
  });
});

describe("a new segment leaves no stale path behind", () => {
  it("the old interpreter and the replaced run path are cleared where the moved copies left them (the file still lints clean)", () => {
    const input = new Uint8Array(readFileSync(fx("x86_64/prog-rpath")));
    const has = (b: Uint8Array, s: string) => Buffer.from(b).includes(Buffer.from(s));
    expect(has(input, "$ORIGIN") && has(input, "/lib64/ld-linux-x86-64.so.2")).toBe(true);
    const long = "/opt/a/very/long/directory/that/cannot/fit/in/the/old/string/table";
    const { bytes, plan } = patchBytes(
      input,
      [
        { op: "set-search-path", paths: [long], kind: "rpath" },
        { op: "set-interpreter", path: `${long}/ld-linux-x86-64.so.2` },
      ],
      "new-segment",
    );
    expect(plan.layout.kind).toBe("new-segment");
    expect(has(bytes, "$ORIGIN")).toBe(false);
    expect(has(bytes, "/lib64/ld-linux-x86-64.so.2")).toBe(false);
    expect(has(bytes, long)).toBe(true);
  });
});
