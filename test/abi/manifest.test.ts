import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseManifest, printManifest } from "../../src/abi/format.js";
import { abiHash, normalizedAlignment } from "../../src/abi/hash.js";
import { loadManifest } from "../../src/abi/load.js";
import { symbolKey, type AbiManifest } from "../../src/abi/manifest.js";
import { readelf } from "../support/readelf.js";
import { hasSystemLibs, hasTool, systemLib } from "../support/tools.js";

const real = ["libc.so.6", "libm.so.6", "libstdc++.so.6", "libz.so.1", "libcrypto.so.3"];

describe.skipIf(!hasTool("readelf", "binutils") || !hasSystemLibs(real))("manifests of the system's own libraries", () => {
  it.each(real)("%s: produced without error, round-trips, and lists exactly readelf's exported symbols", async (name) => {
    const m = loadManifest(systemLib(name)).manifest;
    expect(m.soname).toBe(name);
    expect(parseManifest(printManifest(m))).toEqual(m);
    const re = await readelf(systemLib(name));
    const exported = re.symbols
      .filter((s) => s.ndx !== "UND" && s.bind !== "LOCAL" && (s.vis === "DEFAULT" || s.vis === "PROTECTED"))
      .filter((s) => ["FUNC", "IFUNC", "OBJECT", "TLS", "NOTYPE"].includes(s.type))
      // The linker's version-name markers (readelf prints them without a version).
      .filter((s) => !(s.ndx === "ABS" && s.version === null && m.versions.includes(s.name)))
      .map((s) => (s.version === null ? s.name : `${s.name}${s.sep}${s.version}`));
    expect(m.symbols.map(symbolKey).sort()).toEqual([...new Set(exported)].sort());
  });

  it("records what glibc's and libstdc++'s ABI is made of", () => {
    const libc = loadManifest(systemLib("libc.so.6")).manifest;
    const get = (m: AbiManifest, key: string) => m.symbols.find((s) => symbolKey(s) === key);
    expect(libc.versions).toContain("GLIBC_2.2.5");
    expect(libc.baseVersion).toBe("libc.so.6");
    expect(get(libc, "memcpy@@GLIBC_2.14")?.type).toBe("FUNC"); // an IFUNC, recorded as FUNC
    expect(get(libc, "memcpy@GLIBC_2.2.5")?.default).toBe(false);
    expect(get(libc, "stdout@@GLIBC_2.2.5")?.data).toMatchObject({ size: 8, readonly: false });
    expect(get(libc, "errno@@GLIBC_PRIVATE")?.type).toBe("TLS");
    expect(get(libc, "environ@@GLIBC_2.2.5")?.data?.alias).toBe("__environ@GLIBC_2.2.5");
    const cxx = loadManifest(systemLib("libstdc++.so.6")).manifest;
    expect(cxx.symbols.filter((s) => s.bind === "GNU_UNIQUE").length).toBeGreaterThan(10);
  });
});

describe("ABI hash properties", () => {
  const base = loadManifest(new URL("../../testdata/fixtures/x86_64/libvers.so.1", import.meta.url).pathname).manifest;

  it("does not depend on symbol order or link hints", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(base.symbols, { minLength: base.symbols.length }), (symbols) => {
        expect(abiHash({ ...base, symbols, hints: { needed: ["libc.so.6"], imports: [{ symbol: "puts@GLIBC_2.2.5", from: "libc.so.6" }] } })).toBe(abiHash(base));
      }),
      { numRuns: 200 },
    );
  });

  it("changes with any single change to the interface", () => {
    const edits: ((m: AbiManifest) => void)[] = [
      (m) => (m.soname = "libvers.so.2"),
      (m) => (m.e_flags = 1),
      (m) => (m.e_machine = 183),
      (m) => m.versions.push("VERS_3.0"),
      (m) => (m.symbols[0]!.name += "x"),
      (m) => (m.symbols[0]!.default = !m.symbols[0]!.default),
      (m) => (m.symbols[0]!.bind = "WEAK"),
      (m) => (m.symbols[0]!.other = 0x80),
      (m) => (m.symbols.find((s) => s.data)!.data!.size += 4),
      (m) => (m.symbols.find((s) => s.data)!.data!.readonly = !m.symbols.find((s) => s.data)!.data!.readonly),
      (m) => (m.symbols.find((s) => s.data)!.data!.align = 128),
      (m) => m.symbols.pop(),
    ];
    const h = abiHash(base);
    for (const edit of edits) {
      const m: AbiManifest = structuredClone(base);
      edit(m);
      expect(abiHash(m), edit.toString()).not.toBe(h);
    }
  });

  it("normalizes alignment up to 32 bytes to a function of the size, keeps larger alignment", () => {
    expect([4, 8, 16, 32].map((a) => normalizedAlignment(4, a))).toEqual([4, 4, 4, 4]);
    expect([8, 16, 32].map((a) => normalizedAlignment(16, a))).toEqual([16, 16, 16]);
    expect(normalizedAlignment(16, 64)).toBe(64);
    expect(normalizedAlignment(256, 16)).toBe(32);
    expect(normalizedAlignment(3, 16)).toBe(2);
  });
});
