// Issue 14, item 5: a `.dynamic` section without PT_DYNAMIC (the program header cleared to
// PT_NULL). Where the section headers are consistent, --set-rpath edits the table through
// them, as patchelf does, leaving the program headers alone; where they are not, the edit is
// refused in one line and the file is left as it was. The reader itself keeps reporting no
// dynamic table for such a file (as readelf and ld.so do) until the patcher adopts the section.
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { BufferSource, ElfFile } from "../../src/elf/index.js";
import { abilink } from "../support/cli.js";
import { programHeaderTable, retypeProgramHeaders, setSectionField } from "../support/elf-edit.js";
import { withTmpDir } from "../support/tmp.js";
import { hasTool } from "../support/tools.js";

const tools = hasTool("objdump", "binutils") && hasTool("readelf", "binutils");
const patchelf = hasTool("patchelf", "patchelf");
const fixtures = new URL("../../testdata/fixtures/x86_64/", import.meta.url).pathname;
const PT_DYNAMIC = 2;
const LONG = "/opt/abilink-test/a/run/path/long/enough/that/the/string/table/must/grow/somewhere/else";

let dir = "";
withTmpDir((d) => (dir = d));
let n = 0;

/** A copy of a fixture with PT_DYNAMIC turned into PT_NULL. */
function withoutPtDynamic(name: string): string {
  const f = join(dir, `${n++}-${name}`);
  copyFileSync(join(fixtures, name), f);
  expect(retypeProgramHeaders(f, PT_DYNAMIC, 0)).toBe(1);
  return f;
}

/** The dynamic table as objdump reads it, through the section headers: `TAG value` lines. */
async function sectionDynamic(f: string): Promise<string[]> {
  const out = (await execa("objdump", ["-p", f], { env: { LC_ALL: "C" } })).stdout;
  const at = out.indexOf("Dynamic Section:");
  if (at < 0) return [];
  return out.slice(at).split("\n").slice(1).filter((l) => /^\s+[A-Z_]/.test(l)).map((l) => l.trim().replace(/\s+/g, " "));
}
const strings = (rows: string[]) => rows.filter((r) => /^(NEEDED|SONAME|RUNPATH|RPATH) /.test(r)).sort();

describe.skipIf(!tools)(".dynamic without PT_DYNAMIC", () => {
  it("the reader reports no dynamic table until the section is adopted", () => {
    const f = withoutPtDynamic("libvers.so.1");
    const elf = ElfFile.parse(new BufferSource(readFileSync(f)));
    expect(elf.dynamic).toBeNull();
    expect(elf.adoptDynamicSection()?.name).toBe(".dynamic");
    expect(elf.dynamic?.origin).toBe("sections");
    expect(elf.dynamic?.soname).toBe("libvers.so.1");
    // A normal file has nothing to adopt.
    expect(ElfFile.parse(new BufferSource(readFileSync(join(fixtures, "libvers.so.1")))).adoptDynamicSection()).toBeNull();
  });

  for (const name of ["libvers.so.1", "prog"]) {
    for (const [cli, path] of [["patchelf", "/x"], ["patchelf", LONG], ["patch", LONG]] as const) {
      it(`${name}: abilink ${cli} sets a run path of ${path.length} bytes through the section headers`, async () => {
        const f = withoutPtDynamic(name);
        const before = await programHeaderTable(f);
        const old = await sectionDynamic(f);
        const r = await abilink(cli === "patchelf" ? ["patchelf", "--set-rpath", path, f] : ["patch", "--set-runpath", path, f]);
        expect([r.code, r.stderr]).toEqual([0, ""]);
        const rows = await sectionDynamic(f);
        expect(strings(rows)).toEqual(strings([...old.filter((x) => !/^R(UN)?PATH /.test(x)), `RUNPATH ${path}`]));
        const after = await programHeaderTable(f);
        expect(after.stderr).toBe("");
        // Still no PT_DYNAMIC; PT_PHDR (prog) and every old program header as they were, unless the table grew.
        expect(after.rows.some((x) => x.type === "DYNAMIC")).toBe(false);
        expect(after.rows.find((x) => x.type === "PHDR")).toEqual(before.rows.find((x) => x.type === "PHDR"));
        expect(after.rows.slice(0, before.rows.length).filter((x) => x.type !== "LOAD")).toEqual(before.rows.filter((x) => x.type !== "LOAD"));
      });
    }
  }

  it.skipIf(!patchelf)("agrees with patchelf 0.14 on the strings of the edited table", async () => {
    for (const name of ["libvers.so.1", "prog"]) {
      for (const path of ["/x", LONG]) {
        const ours = withoutPtDynamic(name);
        const theirs = withoutPtDynamic(name);
        expect((await abilink(["patchelf", "--set-rpath", path, ours])).stderr).toBe("");
        await execa("patchelf", ["--set-rpath", path, theirs]);
        expect(strings(await sectionDynamic(ours))).toEqual(strings(await sectionDynamic(theirs)));
      }
    }
  });

  it.skipIf(!patchelf)("prints SONAME, run path and NEEDED through the section, as patchelf 0.14 does", async () => {
    const f = withoutPtDynamic("libvers.so.1");
    const args = ["--print-soname", "--print-rpath", "--print-needed", f];
    const ours = await abilink(["patchelf", ...args]);
    const theirs = await execa("patchelf", args, { reject: false });
    expect([ours.code, ours.stdout, ours.stderr]).toEqual([theirs.exitCode, theirs.stdout, theirs.stderr]);
    expect(ours.stdout.split("\n")[0]).toBe("libvers.so.1");
  });

  const broken: [string, (f: string) => void, RegExp][] = [
    ["outside the file", (f) => setSectionField(f, ".dynamic", "sh_offset", 1n << 32n), /\.dynamic lies outside the file$/],
    ["not at its address in a PT_LOAD", (f) => setSectionField(f, ".dynamic", "sh_addr", 0x7000000n), /\.dynamic is not inside a PT_LOAD at its address$/],
    ["not linked to a string table", (f) => setSectionField(f, ".dynamic", "sh_link", 0n), /\.dynamic is not linked to a string table \(sh_link 0\)$/],
    ["linked to a string table that is not loaded", (f) => setSectionField(f, ".dynstr", "sh_addr", 0x7000000n), /linked to \.dynstr, which is not inside a PT_LOAD at its address$/],
  ];
  for (const [what, breakIt, message] of broken) {
    it(`refused in one line, file untouched: .dynamic ${what}`, async () => {
      for (const cli of ["patchelf", "patch"]) {
        const f = withoutPtDynamic("libvers.so.1");
        breakIt(f);
        const bytes = readFileSync(f);
        const r = await abilink(cli === "patchelf" ? ["patchelf", "--set-rpath", "/x", f] : ["patch", "--set-runpath", "/x", f]);
        expect(r.code).not.toBe(0);
        expect(r.stderr.split("\n")).toHaveLength(1);
        expect(r.stderr).toMatch(message);
        expect(readFileSync(f).equals(bytes)).toBe(true);
      }
    });
  }
});
