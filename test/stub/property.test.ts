// Random manifests through the stub builder and back: the stub's manifest is the manifest it
// was built from (with and without link hints), a stub built from that is the same bytes,
// and readelf and eu-elflint accept every stub.
import { execa } from "execa";
import fc from "fast-check";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { printManifest } from "../../src/abi/format.js";
import { compareSymbols, extractManifest, symbolId, type AbiManifest, type AbiSymbol, type HintImport } from "../../src/abi/manifest.js";
import { BufferSource, ElfFile } from "../../src/elf/index.js";
import { buildStub } from "../../src/stub/index.js";
import { withTmpDir } from "../support/tmp.js";
import { hasTool } from "../support/tools.js";

const RUNS = Number(process.env.ABILINK_STUB_RUNS ?? 150);

// ELF names: any bytes but NUL, with the characters the manifest escapes.
const nameArb = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.$]{0,24}$/) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !s.includes("\0")) },
  { weight: 1, arbitrary: fc.constantFrom("a b", "50%", "naïve", "operator new", "_ZN3foo3barEv") },
);
const versionArb = fc.stringMatching(/^[A-Z][A-Z0-9_.]{1,12}$/);

// Targets: class, byte order, e_machine and e_flags as real libraries have them.
const targetArb = fc.constantFrom(
  { class: 64 as const, data: "little" as const, e_machine: 62, e_flags: 0 },
  { class: 32 as const, data: "little" as const, e_machine: 3, e_flags: 0 },
  { class: 64 as const, data: "little" as const, e_machine: 183, e_flags: 0 },
  { class: 32 as const, data: "little" as const, e_machine: 40, e_flags: 0x5000400 },
  { class: 64 as const, data: "little" as const, e_machine: 243, e_flags: 5 },
  { class: 64 as const, data: "big" as const, e_machine: 21, e_flags: 1 },
  { class: 64 as const, data: "big" as const, e_machine: 22, e_flags: 0 },
);

const symbolArb = fc.record({
  name: nameArb,
  versionPick: fc.option(fc.nat(), { nil: null }),
  default: fc.boolean(),
  type: fc.constantFrom("FUNC" as const, "FUNC" as const, "OBJECT" as const, "TLS" as const, "NOTYPE" as const),
  bind: fc.constantFrom("GLOBAL" as const, "WEAK" as const, "GNU_UNIQUE" as const),
  // Visibility DEFAULT or PROTECTED (hidden symbols are not exported); the processor bit is
  // kept only where the target defines one (aarch64's VARIANT_PCS, RISC-V's VARIANT_CC).
  other: fc.tuple(fc.constantFrom(0, 3), fc.constantFrom(0, 0x80)).map(([vis, hi]) => vis | hi),
  size: fc.oneof(fc.nat(64), fc.nat(1 << 20)),
  alignLog: fc.nat(12),
  kind: fc.constantFrom("readonly" as const, "relro" as const, "writable" as const),
  // Joins the alias group of an earlier data symbol of its kind (same address, alignment).
  aliasPick: fc.option(fc.nat(), { nil: null, freq: 3 }),
});

export const stubManifestArb: fc.Arbitrary<AbiManifest> = fc
  .record({
    target: targetArb,
    soname: fc.option(nameArb, { nil: null, freq: 8 }),
    ei_osabi: fc.constantFrom(0, 3),
    baseVersion: fc.option(versionArb, { nil: null }),
    versions: fc.uniqueArray(versionArb, { maxLength: 5 }),
    firstPick: fc.nat(),
    symbols: fc.array(symbolArb, { maxLength: 40 }),
    hints: fc.option(
      fc.record({
        needed: fc.uniqueArray(nameArb, { maxLength: 3 }),
        // An unversioned import's name cannot hold "@" (it would read as name@version).
        imports: fc.array(fc.record({ name: nameArb.filter((n) => !n.includes("@")), version: fc.option(versionArb, { nil: undefined }), fromPick: fc.nat(), weak: fc.boolean(), type: fc.option(fc.constantFrom("FUNC" as const, "OBJECT" as const, "TLS" as const), { nil: undefined }) }), {
          maxLength: 5,
        }),
      }),
      { nil: undefined },
    ),
  })
  .map((r) => {
    const versions = r.versions.filter((v) => v !== r.baseVersion).sort();
    const seen = new Set<string>();
    const symbols: AbiSymbol[] = [];
    const leaders: AbiSymbol[] = [];
    for (const x of r.symbols) {
      const version = x.versionPick !== null && versions.length > 0 ? versions[x.versionPick % versions.length]! : null;
      const variantBit = r.target.e_machine === 183 || r.target.e_machine === 243;
      // GNU_UNIQUE is for objects only, as compilers emit it (C++ template statics).
      const bind = x.bind === "GNU_UNIQUE" && x.type !== "OBJECT" ? "GLOBAL" : x.bind;
      const s: AbiSymbol = { name: x.name, version, default: version !== null && x.default, type: x.type, bind, other: variantBit ? x.other : x.other & 3 };
      if (seen.has(symbolId(s))) continue;
      seen.add(symbolId(s));
      if (x.type === "OBJECT" || x.type === "TLS") {
        const kind = x.type === "TLS" ? "writable" : x.kind;
        const same = leaders.filter((l) => l.type === x.type && (l.data!.readonly ? (l.data!.relro ? "relro" : "readonly") : "writable") === kind);
        if (x.aliasPick !== null && same.length > 0) {
          // One address: the leader's alignment; the group's key is its smallest id (set below).
          const leader = same[x.aliasPick % same.length]!;
          s.data = { ...leader.data!, size: x.size };
          delete s.data.alias;
          (s as AbiSymbol & { group?: AbiSymbol }).group = leader;
        } else {
          s.data = { size: x.size, align: 2 ** x.alignLog, readonly: kind !== "writable" };
          if (kind === "relro") s.data.relro = true;
          leaders.push(s);
        }
      }
      symbols.push(s);
    }
    // Alias keys as extraction writes them: every member but the group's smallest id names it.
    const groups = new Map<AbiSymbol, AbiSymbol[]>();
    for (const s of symbols) {
      const g = (s as AbiSymbol & { group?: AbiSymbol }).group;
      delete (s as AbiSymbol & { group?: AbiSymbol }).group;
      if (g) groups.set(g, [...(groups.get(g) ?? [g]), s]);
    }
    for (const members of groups.values()) {
      const first = members.map(symbolId).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0]!;
      for (const m of members) if (symbolId(m) !== first) m.data!.alias = first;
    }
    symbols.sort(compareSymbols);
    const m: AbiManifest = {
      soname: r.soname,
      ...r.target,
      // Linkers mark a file with GNU_UNIQUE symbols as OS/ABI GNU.
      ei_osabi: symbols.some((s) => s.bind === "GNU_UNIQUE") ? 3 : r.ei_osabi,
      baseVersion: versions.length > 0 || r.baseVersion !== null ? (r.baseVersion ?? "base") : null,
      versions,
      firstVersion: versions.length > 0 ? versions[r.firstPick % versions.length]! : null,
      symbols,
    };
    if (m.baseVersion !== null && versions.includes(m.baseVersion)) m.baseVersion = `${m.baseVersion}_BASE`;
    if (r.hints) {
      const byKey = new Map<string, HintImport>();
      for (const i of r.hints.imports) {
        // A version comes from a library the NEEDED entries name, as in any linked library.
        const version = r.hints.needed.length > 0 ? i.version : undefined;
        const symbol = version === undefined ? i.name : `${i.name}@${version}`;
        const h: HintImport = { symbol };
        if (version !== undefined) h.from = r.hints.needed[i.fromPick % r.hints.needed.length]!;
        if (i.weak) h.weak = true;
        if (i.type !== undefined) h.type = i.type;
        byKey.set(symbol, h);
      }
      m.hints = { needed: r.hints.needed, imports: [...byKey.values()].sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0)) };
    }
    return m;
  });

const parse = (bytes: Uint8Array) => ElfFile.parse(new BufferSource(bytes));

/** The manifest without the hints a stub adds of its own accord: its own order, version order and ppc64's descriptor sizes. */
function withoutDerivedHints(m: AbiManifest): AbiManifest {
  if (!m.hints) return m;
  const { order: _o, versionOrder: _v, sizes: _s, ...rest } = m.hints;
  return { ...m, hints: rest };
}

describe("stubs of random manifests", () => {
  it("give their manifest back, with and without hints, and the manifest they give builds the same bytes", () => {
    fc.assert(
      fc.property(stubManifestArb, (m) => {
        const bytes = buildStub(m);
        const { hints: _h, ...bare } = m;
        expect(extractManifest(parse(bytes))).toEqual(bare);
        const back = extractManifest(parse(bytes), { hints: true });
        const expected = m.hints ? m : { ...m, hints: { needed: [], imports: [] } };
        expect(withoutDerivedHints(back)).toEqual(expected);
        // The order and version order it reports are its own: building from them changes nothing.
        expect(Buffer.from(buildStub(back)).equals(Buffer.from(bytes))).toBe(true);
        // Deterministic.
        expect(Buffer.from(buildStub(m)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  describe.skipIf(!hasTool("readelf", "binutils") || !hasTool("eu-elflint", "elfutils"))("checked by readelf and eu-elflint", () => {
    let tmp = "";
    withTmpDir((p) => (tmp = p));
    // eu-elflint flags protected symbols in any library, and does not know aarch64's and RISC-V's
  // variant-call st_other bit (it flags the real libraries that have it too).
  it("every stub reads without warnings and lints clean (but what eu-elflint flags in real libraries too)", async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(stubManifestArb, async (m) => {
          const path = join(tmp, `stub-${++n}.so`);
          writeFileSync(path, buildStub(m));
          const r = await execa("readelf", ["-aW", path], { reject: false, env: { LC_ALL: "C" } });
          expect([r.exitCode, r.stderr]).toEqual([0, ""]);
          const lint = await execa("eu-elflint", ["--gnu-ld", "-q", path], { reject: false });
          const complaints = `${lint.stdout}\n${lint.stderr}`
            .split("\n")
            .filter((l) => l.trim() !== "" && !/symbol in dynamic symbol table with non-default visibility/.test(l))
            .filter((l) => !(/unknown bit set in st_other/.test(l) && m.symbols.some((x) => (x.other & 0x80) !== 0)));
          expect(complaints, printManifest(m)).toEqual([]);
        }),
        { numRuns: Math.max(10, Math.floor(RUNS / 5)) },
      );
    });
  });
});
