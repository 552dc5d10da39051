import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManifestError, parseManifest, printManifest } from "../../src/abi/format.js";
import { compareSymbols, symbolId, type AbiManifest, type AbiSymbol, type HintImport } from "../../src/abi/manifest.js";

// Names with the characters that need escaping: spaces, %, @, control bytes, non-ASCII.
const nameArb = fc.oneof(
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.$]{0,20}$/),
  fc.string({ unit: "binary", minLength: 1, maxLength: 12 }),
  fc.constantFrom("a b", "50%", "x@y", "naïve", "\t", "%41", "@@"),
);

const manifestArb: fc.Arbitrary<AbiManifest> = fc
  .record({
    soname: fc.option(nameArb, { nil: null }),
    class: fc.constantFrom(32 as const, 64 as const),
    data: fc.constantFrom("little" as const, "big" as const),
    e_machine: fc.constantFrom(3, 8, 20, 21, 22, 40, 62, 183, 243, 0x4242),
    ei_osabi: fc.constantFrom(0, 3, 9),
    e_flags: fc.integer({ min: 0, max: 0xffffffff }),
    baseVersion: fc.option(nameArb, { nil: null }),
    versions: fc.uniqueArray(nameArb, { maxLength: 5 }),
    rawSymbols: fc.array(
      fc.record({
        name: nameArb,
        versionPick: fc.nat(),
        hasVersion: fc.boolean(),
        default: fc.boolean(),
        type: fc.constantFrom("FUNC" as const, "OBJECT" as const, "TLS" as const, "NOTYPE" as const),
        bind: fc.constantFrom("GLOBAL" as const, "WEAK" as const, "GNU_UNIQUE" as const),
        other: fc.integer({ min: 0, max: 255 }),
        size: fc.nat({ max: 1 << 20 }),
        alignLog: fc.integer({ min: 0, max: 12 }),
        kind: fc.constantFrom("readonly" as const, "relro" as const, "writable" as const),
        aliasPick: fc.option(fc.nat(), { nil: undefined }),
      }),
      { maxLength: 40 },
    ),
    firstVersionPick: fc.option(fc.nat(), { nil: null }),
    hints: fc.option(
      fc.record({
        needed: fc.array(nameArb, { maxLength: 3 }),
        imports: fc.array(fc.record({ name: nameArb, version: fc.option(nameArb, { nil: undefined }), from: fc.option(nameArb, { nil: undefined }), weak: fc.boolean(), type: fc.option(fc.constantFrom("FUNC" as const, "OBJECT" as const, "TLS" as const), { nil: undefined }) }), {
          maxLength: 3,
        }),
      }),
      { nil: undefined },
    ),
  })
  .map((r) => {
    const versions = r.versions.filter((v) => v !== r.baseVersion);
    const usable = [...versions, ...(r.baseVersion !== null ? [r.baseVersion] : [])];
    const seen = new Set<string>();
    const symbols: AbiSymbol[] = [];
    for (const x of r.rawSymbols) {
      const version = x.hasVersion && usable.length > 0 ? usable[x.versionPick % usable.length]! : null;
      const s: AbiSymbol = { name: x.name, version, default: version !== null && x.default, type: x.type, bind: x.bind, other: x.other };
      if (seen.has(symbolId(s))) continue;
      seen.add(symbolId(s));
      if (x.type === "OBJECT" || x.type === "TLS") {
        s.data = { size: x.size, align: 2 ** x.alignLog, readonly: x.kind !== "writable" };
        if (x.kind === "relro") s.data.relro = true;
      }
      symbols.push(s);
    }
    const data = symbols.filter((s) => s.data);
    for (const [i, x] of r.rawSymbols.entries()) {
      const s = symbols[i];
      if (s?.data && x.aliasPick !== undefined && data.length > 0) {
        // The group's first member carries no alias: a symbol is never its own alias.
        const to = symbolId(data[x.aliasPick % data.length]!);
        if (to !== symbolId(s)) s.data.alias = to;
      }
    }
    symbols.sort(compareSymbols);
    const m: AbiManifest = {
      soname: r.soname,
      class: r.class,
      data: r.data,
      e_machine: r.e_machine,
      ei_osabi: r.ei_osabi,
      e_flags: r.e_flags,
      baseVersion: r.baseVersion,
      versions: [...versions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      firstVersion: versions.length > 0 && r.firstVersionPick !== null ? versions[r.firstVersionPick % versions.length]! : null,
      symbols,
    };
    // Empty hints print as nothing: the canonical form of "no hints".
    if (r.hints && r.hints.needed.length + r.hints.imports.length > 0) {
      const imports = r.hints.imports.map((i) => {
        const h: HintImport = { symbol: i.version === undefined ? i.name.replace(/@/g, "_") : `${i.name.replace(/@/g, "_")}@${i.version.replace(/@/g, "_")}` };
        if (i.version !== undefined && i.from !== undefined) h.from = i.from;
        if (i.weak) h.weak = true;
        if (i.type !== undefined) h.type = i.type;
        return h;
      });
      // Each imported symbol once, as a library's table yields them.
      m.hints = { needed: r.hints.needed, imports: imports.filter((h, i) => imports.findIndex((x) => x.symbol === h.symbol) === i) };
    }
    return m;
  });

describe("manifest text format", () => {
  it("parse(print(m)) == m for random manifests, and printing is a fixed point", () => {
    fc.assert(
      fc.property(manifestArb, (m) => {
        const text = printManifest(m);
        const back = parseManifest(text);
        expect(back).toEqual(m);
        expect(printManifest(back)).toBe(text);
        // One fact per line, single spaces, no trailing blanks.
        for (const line of text.trimEnd().split("\n")) expect(line).toMatch(/^\S+( \S+)*$/);
      }),
      { numRuns: 1500 },
    );
  });

  it("accepts comments, blank lines and any order, and prints canonically", () => {
    const text = [
      "# reviewed 2026-11-23",
      "abilink-abi 2",
      "symbol b@@V1 FUNC GLOBAL",
      "",
      "machine aarch64",
      "version V1",
      "first-version V1",
      "symbol a@V1 OBJECT WEAK size=8 align=8 readonly",
      "class 64",
      "data little",
      "soname libx.so.1",
    ].join("\n");
    expect(printManifest(parseManifest(text))).toBe(
      [
        "abilink-abi 2",
        "soname libx.so.1",
        "class 64",
        "data little",
        "machine aarch64",
        "osabi SYSV",
        "flags 0x0",
        "first-version V1",
        "version V1",
        "symbol a@V1 OBJECT WEAK size=8 align=8 readonly",
        "symbol b@@V1 FUNC GLOBAL",
        "",
      ].join("\n"),
    );
  });

  const base = "abilink-abi 2\nclass 64\ndata little\nmachine x86_64\nversion V1\nfirst-version V1\n";
  const bad: [string, number, RegExp][] = [
    ["abilink-abi 3\n", 1, /unsupported manifest format "abilink-abi 3"/],
    ["abilink-abi 1\n", 1, /format 1 is an older abilink's, without "first-version": write the manifest again with `abilink abi`/],
    ["hello\n", 1, /expected "abilink-abi 2"/],
    [base + "symbol f FUNC GLOBAL\nhint-order buckets=1 0\nhint-order buckets=1 0\n", 9, /"hint-order" given twice/],
    [base + "version V2\nhint-versions V2 V1\n", 8, /"hint-versions" must start with the first version \(V1\)/],
    [base + "symbol x OBJECT GLOBAL size=4 align=4294967297 writable\n", 7, /bad field "align=4294967297"/],
    [base + "hint-import x@\n", 7, /bad symbol "x@" for "hint-import"/],
    [base + "hint-import x\nhint-import x\n", 8, /"hint-import x" given twice/],
    ["abilink-abi 2\nclass 64\ndata little\nmachine x86_64\nversion V1\n", 5, /missing "first-version"/],
    ["abilink-abi 2\nclass 64\ndata little\nmachine x86_64\nversion V1\nfirst-version V2\n", 6, /"first-version V2" names a version no "version" line defines/],
    [base + "symbol f@V2 FUNC GLOBAL\n", 7, /uses version "V2", which no "version" line defines/],
    [base + "symbol f@V1 FUNC GLOBAL\nsymbol f@@V1 FUNC WEAK\n", 8, /listed twice \(first on line 7\)/],
    [base + "symbol x OBJECT GLOBAL size=4\n", 7, /needs size=, align= and readonly, relro or writable/],
    [base + "symbol x OBJECT GLOBAL size=4 align=3 writable\n", 7, /bad field "align=3"/],
    [base + "symbol x FUNC GLOBAL size=4\n", 7, /bad field "size=4" for a FUNC symbol/],
    [base + "symbol x CODE GLOBAL\n", 7, /unknown symbol type "CODE"/],
    [base + "symbol  x FUNC GLOBAL\n", 7, /single spaces/],
    [base + "class 32\n", 7, /"class" given twice/],
    [base + "frobnicate 1\n", 7, /unknown fact "frobnicate"/],
    ["abilink-abi 2\nclass 64\nmachine x86_64\n", 3, /missing "data"/],
    [base + "machine vax11\n", 7, /unknown machine "vax11"|"machine" given twice/],
    [base + "flags 0xFF\n", 7, /flags must be lower-case hex/],
  ];
  it.each(bad)("rejects malformed manifests with the line number: %#", (text, line, message) => {
    let err: unknown;
    try {
      parseManifest(text, "x.abi");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as ManifestError).line).toBe(line);
    expect((err as Error).message).toMatch(new RegExp(`^x\\.abi:${line}: `));
    expect((err as Error).message).toMatch(message);
  });
});
