// The resolution cache (patchelf 0.19's --build-resolution-cache) without the CLI: the
// resolution against a fake file system, the note's bytes, and the "add-note" edit through
// the planner on every fixture (eu-elflint, readelf -n, the program still runs).
import { execa } from "execa";
import fc from "fast-check";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BufferSource, ElfError, ElfFile } from "../../src/elf/index.js";
import { PatchError } from "../../src/errors.js";
import { planPatch, type Edit } from "../../src/patch/index.js";
import { resolutionCacheStep } from "../../src/patch/ldcache-build.js";
import { LDCACHE_SECTION, NT_NIXOS_LDCACHE, decodeDescriptor, encodeDescriptor, encodeLdCacheNote, hintReason, resolveRunPath, type DirectoryProbe } from "../../src/patch/ldcache.js";
import { apply, mutation } from "../support/mutation.js";
import { patchBytes, runProgram } from "../support/patching.js";
import { withTmpDir } from "../support/tmp.js";
import { hasTool } from "../support/tools.js";

/** A file system of absolute directories: which exist (searchable), which have glibc-hwcaps, which libraries each holds. */
function fakeProbe(dirs: Record<string, { libs: string[]; hwcaps?: boolean }>): DirectoryProbe {
  const norm = (d: string) => d.replace(/\/+$/, "") || "/";
  return {
    searchable: (d) => norm(d) in dirs,
    hasHwcaps: (d) => dirs[norm(d)]?.hwcaps === true,
    isFile: (p) => {
      const i = p.lastIndexOf("/");
      return dirs[norm(p.slice(0, i) || "/")]?.libs.includes(p.slice(i + 1)) ?? false;
    },
  };
}

describe("resolveRunPath", () => {
  const probe = fakeProbe({ "/a": { libs: ["libfoo.so"] }, "/b": { libs: ["libbar.so", "libfoo.so"] }, "/h": { libs: ["libfoo.so"], hwcaps: true }, "/e": { libs: [] } });

  it("records every directory holding a library, in run-path order, sorted by library name", () => {
    expect(resolveRunPath(["libfoo.so", "libbar.so"], ["/b", "/a"], probe)).toEqual([
      { needed: "libbar.so", paths: ["=/b/libbar.so"] },
      { needed: "libfoo.so", paths: ["=/b/libfoo.so", "=/a/libfoo.so"] },
    ]);
  });

  it("gives empty, relative, $-token, absent and glibc-hwcaps directories as ?hints, in their place", () => {
    const runPath = ["", "rel/dir", "$ORIGIN/../lib", "/absent", "/h", "/a"];
    expect(resolveRunPath(["libfoo.so"], runPath, probe)).toEqual([{ needed: "libfoo.so", paths: ["?", "?rel/dir", "?$ORIGIN/../lib", "?/absent", "?/h", "=/a/libfoo.so"] }]);
    expect(runPath.map((d) => hintReason(d, probe) !== null)).toEqual([true, true, true, true, true, false]);
  });

  it("skips NEEDED entries with a slash, and libraries found nowhere", () => {
    expect(resolveRunPath(["/b/libbar.so", "libnone.so", "libfoo.so"], ["/e", "/a"], probe)).toEqual([{ needed: "libfoo.so", paths: ["=/a/libfoo.so"] }]);
    expect(resolveRunPath(["libfoo.so"], [], probe)).toEqual([]);
    expect(resolveRunPath([], ["/a"], probe)).toEqual([]);
  });

  it("property: each entry follows the run path, one element per directory that holds the library or is a hint", () => {
    const pool = ["/a", "/b", "/h", "/e", "/absent", "", "rel", "$ORIGIN/x", "/a/"];
    const libs = ["libfoo.so", "libbar.so", "libc.so.6", "sub/libx.so"];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pool), { maxLength: 8 }), fc.subarray(libs), (runPath, needed) => {
        const entries = resolveRunPath(needed, runPath, probe);
        const names = entries.map((e) => e.needed);
        expect(names).toEqual([...names].sort());
        for (const lib of needed.filter((n) => !n.includes("/"))) {
          const expected = runPath.flatMap((d) => {
            if (hintReason(d, probe) !== null) return [`?${d}`];
            const p = d.endsWith("/") ? d + lib : `${d}/${lib}`;
            return probe.isFile(p) ? [`=${p}`] : [];
          });
          expect(entries.find((e) => e.needed === lib)?.paths ?? []).toEqual(expected);
        }
        expect(names.some((n) => n.includes("/"))).toBe(false);
        expect(decodeDescriptor(encodeDescriptor(entries))).toEqual(entries);
      }),
      { numRuns: 300 },
    );
  });
});

describe("the note", () => {
  it("is NixOS's record: namesz 6, descsz, type 0x63a86cb6, name and pairs padded to 4", () => {
    const desc = encodeDescriptor([{ needed: "libfoo.so", paths: ["=/a/libfoo.so", "?$ORIGIN"] }]);
    expect(Buffer.from(desc).toString("latin1")).toBe("libfoo.so\0=/a/libfoo.so:?$ORIGIN\0\0");
    for (const little of [true, false]) {
      const note = Buffer.from(encodeLdCacheNote(desc, little));
      const u32 = (o: number) => (little ? note.readUInt32LE(o) : note.readUInt32BE(o));
      expect([u32(0), u32(4), u32(8)]).toEqual([6, desc.length, NT_NIXOS_LDCACHE]);
      expect(note.subarray(12, 20).toString("latin1")).toBe("NixOS\0\0\0");
      expect(note.subarray(20, 20 + desc.length).equals(Buffer.from(desc))).toBe(true);
      expect(note.length).toBe(20 + Math.ceil(desc.length / 4) * 4);
    }
    expect(Buffer.from(encodeDescriptor([])).toString("latin1")).toBe("\0");
  });
});

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const FIXTURES = ["x86_64/prog", "x86_64/prog-nopie", "x86_64/prog-rpath", "x86_64/libvers.so.1", "i386/prog", "i386/libvers.so.1", "aarch64/prog", "aarch64/prog-64k", "armhf/prog-nopie", "ppc64/prog", "s390x/libvers.so.1", "riscv64/prog"];

/** eu-elflint's findings, without the one it makes about every note type it does not know (NixOS's included). */
async function elflint(path: string): Promise<string[]> {
  const r = await execa("eu-elflint", ["--gnu-ld", "-q", path], { reject: false, stdin: "ignore" });
  return `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => l.trim() !== "" && !/unknown object file note type 1671982262 with owner name 'NixOS'/.test(l));
}

describe.skipIf(!hasTool("eu-elflint", "elfutils") || !hasTool("readelf", "binutils"))("the add-note edit through the planner", () => {
  let tmp = "";
  withTmpDir((p) => (tmp = p));
  const desc = encodeDescriptor([{ needed: "libvers.so.1", paths: ["=/opt/lib/libvers.so.1", "?$ORIGIN"] }]);

  for (const f of FIXTURES) {
    it(`${f}: an allocated SHT_NOTE in a PT_NOTE, readelf -n reads it, eu-elflint finds nothing new`, async () => {
      const input = new Uint8Array(readFileSync(fx(f)));
      const note = encodeLdCacheNote(desc, ElfFile.parse(new BufferSource(input)).little);
      const { bytes, plan } = patchBytes(input, [{ op: "add-note", section: LDCACHE_SECTION, note }]);
      expect(plan.layout.kind).toBe("new-segment");
      const out = join(tmp, f.replace("/", "-"));
      writeFileSync(out, bytes, { mode: 0o755 });
      const sections = (await execa("readelf", ["-SW", out])).stdout;
      expect(sections).toMatch(/\.note\.nixos\.ldcache\s+NOTE\s+[0-9a-f]+ [0-9a-f]+ [0-9a-f]+ 00\s+A\s/);
      const notes = await execa("readelf", ["-nW", out], { env: { LC_ALL: "C" } });
      expect(notes.stderr).toBe("");
      expect(notes.stdout).toMatch(new RegExp(`NixOS\\s+0x${desc.length.toString(16).padStart(8, "0")}\\s+Unknown note type: \\(0x63a86cb6\\)`));
      expect((await execa("readelf", ["-lW", out])).stdout).toMatch(/^\s+\d\d\s+\.note\.nixos\.ldcache\s*$/m);
      expect(await elflint(out)).toEqual(await elflint(fx(f)));
      // The same edit again: nothing to do. Another note: refused.
      expect(patchBytes(bytes, [{ op: "add-note", section: LDCACHE_SECTION, note }]).plan.writes).toEqual([]);
      expect(() => patchBytes(bytes, [{ op: "add-note", section: LDCACHE_SECTION, note: encodeLdCacheNote(encodeDescriptor([]), true) }])).toThrow(/already present/);
    });
  }

  it("x86_64/prog still runs, and after strip too", async () => {
    const dir = join(tmp, "run");
    await execa("mkdir", ["-p", dir]);
    copyFileSync(fx("x86_64/libvers.so.1"), join(dir, "libvers.so.1"));
    const input = new Uint8Array(readFileSync(fx("x86_64/prog")));
    const expected = await runProgram([fx("x86_64/prog")]);
    const { bytes } = patchBytes(input, [{ op: "add-note", section: LDCACHE_SECTION, note: encodeLdCacheNote(desc, true) }]);
    writeFileSync(join(dir, "prog"), bytes, { mode: 0o755 });
    expect(await runProgram([join(dir, "prog")])).toMatchObject({ code: expected.code, stdout: expected.stdout });
    await execa("strip", ["-o", join(dir, "prog-stripped"), join(dir, "prog")]);
    expect(await runProgram([join(dir, "prog-stripped")])).toMatchObject({ code: expected.code, stdout: expected.stdout });
    expect((await execa("readelf", ["-nW", join(dir, "prog-stripped")])).stdout).toContain("NixOS");
  });
});

describe.skipIf(!hasTool("eu-elflint", "elfutils") || !hasTool("readelf", "binutils"))("a stale note", () => {
  let tmp = "";
  withTmpDir((p) => (tmp = p));
  // Edits that change the run path or NEEDED, and edits that do not (some of them no-ops on those fields).
  const pool: Edit[] = [
    { op: "set-search-path", paths: ["/opt/a"], kind: "runpath" },
    { op: "add-runpath", path: "/opt/b" },
    { op: "remove-runpath" },
    { op: "add-needed", name: "libextra.so.1" },
    { op: "replace-needed", from: "libc.so.6", to: "libc.so.6" },
    { op: "remove-needed", name: "libnone.so.1" },
    { op: "set-soname", name: "libother.so.1" },
    { op: "add-debug-tag" },
    { op: "set-os-abi", value: 3 },
  ];
  const dynamicFields = async (path: string) => (await execa("readelf", ["-dW", path], { env: { LC_ALL: "C" } })).stdout.split("\n").filter((l) => /\((NEEDED|RUNPATH|RPATH)\)/.test(l)).map((l) => l.replace(/^\s*0x[0-9a-f]+/, ""));
  const hasNixosNote = async (path: string) => /NixOS\s+0x[0-9a-f]+\s+Unknown note type: \(0x63a86cb6\)/.test((await execa("readelf", ["-nW", path], { env: { LC_ALL: "C" } })).stdout);

  for (const f of ["x86_64/prog", "i386/libvers.so.1", "ppc64/prog"]) {
    it(`${f}: property: after random edits the note is there exactly when readelf -d shows the same NEEDED and run path`, async () => {
      const input = new Uint8Array(readFileSync(fx(f)));
      const note = encodeLdCacheNote(encodeDescriptor([{ needed: "libc.so.6", paths: ["=/opt/a/libc.so.6"] }]), ElfFile.parse(new BufferSource(input)).little);
      const noted = join(tmp, `${f.replace("/", "-")}-noted`);
      writeFileSync(noted, patchBytes(input, [{ op: "add-note", section: LDCACHE_SECTION, note }]).bytes);
      const before = await dynamicFields(noted);
      const lintBefore = await elflint(noted);
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: 4 }), async (edits) => {
          const out = join(tmp, `${f.replace("/", "-")}-${++n}`);
          writeFileSync(out, patchBytes(readFileSync(noted), edits).bytes);
          const same = JSON.stringify(await dynamicFields(out)) === JSON.stringify(before);
          expect(await hasNixosNote(out)).toBe(same);
          expect(await elflint(out)).toEqual(lintBefore);
        }),
        { numRuns: 12 },
      );
    });
  }
});

describe("on mutated fixtures", () => {
  const names = ["x86_64/prog", "x86_64/prog-nopie", "x86_64/libvers.so.1", "i386/prog-nopie", "ppc64/libvers.so.1"];
  const byName = new Map(names.map((n) => [n, new Uint8Array(readFileSync(fx(n)))]));
  const probe = fakeProbe({ "/opt/lib": { libs: ["libvers.so.1", "libc.so.6"] } });
  it("the resolution and the note's plan return or fail with PatchError/ElfError, in bounds", () => {
    fc.assert(
      fc.property(fc.constantFrom(...names), mutation, fc.boolean(), (name, m, setRunPath) => {
        const bytes = apply(byName.get(name)!, m);
        try {
          const elf = ElfFile.parse(new BufferSource(bytes));
          const edits = setRunPath ? [{ op: "set-search-path" as const, paths: ["/opt/lib", "$ORIGIN"], kind: "runpath" as const }] : [];
          const step = resolutionCacheStep(elf, edits, probe);
          const plan = planPatch(elf, step.edit ? [...edits, step.edit] : edits);
          for (const w of plan.writes) expect(w.offset + w.bytes.length).toBeLessThanOrEqual(plan.newSize);
        } catch (e) {
          if (!(e instanceof PatchError) && !(e instanceof ElfError)) throw new Error(`threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
