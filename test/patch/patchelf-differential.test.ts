// The same edits through abilink and through patchelf: readelf must see the same
// interpreter and dynamic entries. Where the tools differ by design, the test says so:
// patchelf --add-needed puts the new entry first (abilink: after the existing ones), and
// patchelf --set-rpath writes DT_RUNPATH (abilink keeps the kind the file has).
import { execa } from "execa";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BufferSource, ElfFile } from "../../src/elf/index.js";
import { abilink } from "../support/cli.js";

const ET_EXEC = 2;
import { findProgram } from "../support/patching.js";
import { readelf } from "../support/readelf.js";
import { hasTool } from "../support/tools.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "alp-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const FILES = [fx("x86_64/prog"), fx("x86_64/prog-nopie"), fx("x86_64/libvers.so.1"), fx("i386/prog"), fx("aarch64/prog"), fx("s390x/libvers.so.1"), findProgram("ls")!, findProgram("readelf")!];
const EDITS: { name: string; abilink: string[]; patchelf: string[]; programsOnly?: boolean; order?: boolean; notExec?: boolean }[] = [
  { name: "longer interpreter", abilink: ["--set-interpreter", "/lib/../lib64/./././ld-linux-x86-64.so.2"], patchelf: ["--set-interpreter", "/lib/../lib64/./././ld-linux-x86-64.so.2"], programsOnly: true },
  { name: "shorter interpreter", abilink: ["--set-interpreter", "/l/ld.so"], patchelf: ["--set-interpreter", "/l/ld.so"], programsOnly: true },
  { name: "longer runpath", abilink: ["--set-runpath", "/a/long/runpath/entry:$ORIGIN/../lib"], patchelf: ["--set-rpath", "/a/long/runpath/entry:$ORIGIN/../lib"] },
  { name: "shorter runpath", abilink: ["--set-runpath", "/r"], patchelf: ["--set-rpath", "/r"] },
  { name: "remove runpath", abilink: ["--remove-runpath"], patchelf: ["--remove-rpath"] },
  { name: "add needed", abilink: ["--add-needed", "libextra.so.7"], patchelf: ["--add-needed", "libextra.so.7"], order: false },
  { name: "replace needed", abilink: ["--replace-needed", "libc.so.6", "libc-other.so.6"], patchelf: ["--replace-needed", "libc.so.6", "libc-other.so.6"] },
  { name: "set soname", abilink: ["--set-soname", "libsomething-else.so.3"], patchelf: ["--set-soname", "libsomething-else.so.3"], notExec: true },
];

describe.skipIf(!hasTool("patchelf", "patchelf"))("abilink patch agrees with patchelf", () => {
  for (const file of FILES) {
    for (const e of EDITS) {
      it(`${file.split("/").slice(-2).join("/")}: ${e.name}`, async () => {
        const base = await readelf(file);
        if (e.programsOnly && base.interpreter === null) return;
        // patchelf ignores --set-soname on ET_EXEC files; abilink sets it on any dynamic object.
        if (e.notExec && ElfFile.parse(new BufferSource(readFileSync(file))).header.e_type === ET_EXEC) return;
        const a = join(work, `a-${Math.random().toString(36).slice(2)}`);
        const p = join(work, `p-${Math.random().toString(36).slice(2)}`);
        copyFileSync(file, a);
        copyFileSync(file, p);
        const r = await abilink(["patch", ...e.abilink, a]);
        expect(r.stderr).toBe("");
        await execa("patchelf", [...e.patchelf, p]);
        const va = await readelf(a);
        const vp = await readelf(p);
        expect(va.stderr).toBe("");
        expect(va.interpreter).toBe(vp.interpreter);
        expect(va.soname).toBe(vp.soname);
        if (e.order === false) expect([...va.needed].sort()).toEqual([...vp.needed].sort());
        else expect(va.needed).toEqual(vp.needed);
        // patchelf converts RPATH to RUNPATH; abilink keeps the kind. The path is the same.
        expect([...va.rpath, ...va.runpath]).toEqual([...vp.rpath, ...vp.runpath]);
        expect(va.rpath.length > 0 ? "rpath" : "runpath").toBe(base.rpath.length > 0 && e.name !== "remove runpath" ? "rpath" : "runpath");
        // Version requirements follow a renamed library in both.
        expect(va.verneed?.map((v) => v.file)).toEqual(vp.verneed?.map((v) => v.file));
        expect(va.symbols).toEqual(base.symbols);
      });
    }
  }
});
