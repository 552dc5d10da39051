// `abilink table` through the built binary: the report, --json, the record, refusals in one
// line with their exit statuses, --help.
import { execa } from "execa";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";
import { withTmpDir } from "../support/tmp.js";
import { hasFiles } from "../support/tools.js";

const LIBZ = "/usr/lib/x86_64-linux-gnu/libz.so.1";
const LIBS = [LIBZ, "/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3"];

let tmp = "";
withTmpDir((p) => (tmp = p));
let n = 0;
const fresh = () => join(tmp, `t${++n}`);

describe.skipIf(!hasFiles(LIBS, "zlib1g libssl3"))("abilink table", () => {
  it("writes the table and reports each entry; the record is the documented format", async () => {
    const out = fresh();
    const r = await abilink(["table", "--out", out, ...LIBS]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(/^lib\/elf64-x86_64\/libcrypto\.so\.3: -> \/usr\/lib\/x86_64-linux-gnu\/libcrypto\.so\.3 {2}abi2-[0-9a-z]{32}$/m);
    expect(r.stdout).toMatch(/^table written to .*: 3 entries in 1 class\/machine directory \(0 copies with \$ORIGIN expanded\)$/m);
    const record = readFileSync(join(out, "abilink-table"), "utf8").split("\n");
    expect(record[0]).toBe("abilink-table 1");
    expect(record.slice(1, -1).map((l) => l.split(" ").slice(0, 3).join(" "))).toEqual(["lib elf64-x86_64 libcrypto.so.3", "lib elf64-x86_64 libssl.so.3", "lib elf64-x86_64 libz.so.1"]);
    for (const line of record.slice(1, -1)) expect(line).toMatch(/^lib elf64-x86_64 \S+ abi2-[0-9a-z]{32} link \/usr\/lib\/x86_64-linux-gnu\/\S+$/);
    const hash = (await abilink(["hash", LIBZ])).stdout.split(" ")[0];
    expect(record[3]).toContain(` ${hash} link `);
    expect(readdirSync(out).sort()).toEqual(["abilink-table", "lib"]);
  });

  it("--json: the entries as one document; another order of LIBs gives the same record bytes", async () => {
    const a = fresh();
    const b = fresh();
    const r = await abilink(["table", "--json", "--out", a, ...LIBS]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ out: a, written: true });
    expect(doc.entries[2]).toEqual({ soname: "libz.so.1", group: "elf64-x86_64", hash: expect.stringMatching(/^abi2-/), kind: "link", interpreter: false, target: expect.stringMatching(/libz\.so\.1/), entry: "lib/elf64-x86_64/libz.so.1" });
    expect((await abilink(["table", "--out", b, ...[...LIBS].reverse()])).code).toBe(0);
    expect(readFileSync(join(b, "abilink-table"))).toEqual(readFileSync(join(a, "abilink-table")));
  });

  it("bad inputs: one line each, exit 1, no DIR", async () => {
    const out = fresh();
    const r = await abilink(["table", "--out", out, LIBZ, "/usr/bin/ls", join(tmp, "missing.so.1")]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")).toEqual(["abilink: /usr/bin/ls: is a program, not a shared library (no SONAME)", `abilink: ${join(tmp, "missing.so.1")}: no such file or directory`]);
    expect(existsSync(out)).toBe(false);
  });

  it("two LIBs with one SONAME: one line naming both, exit 1", async () => {
    const dir = fresh();
    mkdirSync(dir);
    copyFileSync(LIBZ, join(dir, "libz.so.1"));
    const out = fresh();
    const r = await abilink(["table", "--out", out, LIBZ, join(dir, "libz.so.1")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`abilink: ${LIBZ}: has SONAME libz.so.1 (elf64-x86_64) as ${join(dir, "libz.so.1")} has: give one implementation per SONAME`);
    expect(existsSync(out)).toBe(false);
  });

  it("--expect with an incompatible manifest: the report, exit 12, no DIR; a compatible one: written", async () => {
    const abi = (await abilink(["abi", LIBZ])).stdout;
    const lines = abi.split("\n");
    lines.splice(lines.findIndex((l) => l.startsWith("symbol ")), 0, "symbol aaa_gone@@ZLIB_1.2.2 FUNC GLOBAL");
    const manifest = join(tmp, "more.abi");
    await execa("sh", ["-c", `cat > ${manifest}`], { input: lines.join("\n") + "\n" });
    const out = fresh();
    const r = await abilink(["table", "--out", out, "--expect", manifest, ...LIBS]);
    expect(r.code).toBe(12);
    expect(r.stdout).toBe(`${LIBZ} does not provide ${manifest} (libz.so.1, elf64-x86_64): 1 incompatible change\n  INCOMPATIBLE  symbol-removed           aaa_gone@@ZLIB_1.2.2\ntable refused: nothing written`);
    expect(existsSync(out)).toBe(false);
    const json = await abilink(["table", "--json", "--out", out, "--expect", manifest, LIBZ]);
    expect(json.code).toBe(12);
    expect(JSON.parse(json.stdout).refused[0]).toMatchObject({ soname: "libz.so.1", path: LIBZ });
    // A manifest no LIB provides refuses too.
    const none = await abilink(["table", "--out", out, "--expect", manifest, LIBS[1]!]);
    expect([none.code, none.stdout]).toEqual([12, `${manifest}: no LIB has SONAME libz.so.1 for elf64-x86_64: the table would not provide it\ntable refused: nothing written`]);
    const own = join(tmp, "own.abi");
    await execa("sh", ["-c", `cat > ${own}`], { input: abi + "\n" });
    expect((await abilink(["table", "--out", out, "--expect", own, LIBZ])).code).toBe(0);
  });

  it("a DIR that exists, a malformed manifest: one line, exit 1; no --out: usage, exit 2", async () => {
    const out = fresh();
    mkdirSync(out);
    const r = await abilink(["table", "--out", out, LIBZ]);
    expect([r.code, r.stderr]).toEqual([1, `abilink: ${out}: exists already: a table is written as a new directory (remove it, or name another); nothing written`]);
    const bad = join(tmp, "bad.abi");
    await execa("sh", ["-c", `printf 'abilink-abi 2\\nnonsense here\\n' > ${bad}`]);
    const m = await abilink(["table", "--out", fresh(), "--expect", bad, LIBZ]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(new RegExp(`^abilink: ${bad}:2: [^\\n]+$`));
    const u = await abilink(["table", LIBZ]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/--out/);
    expect(u.stderr).not.toMatch(/at .*\.js/);
  });

  it("--help shows the layout, an example and the exit statuses", async () => {
    const r = await abilink(["table", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/lib\/elf<class>-<machine>\/<SONAME>/);
    expect(r.stdout).toMatch(/Examples:\n {2}abilink table --out/);
    expect(r.stdout).toMatch(/Exit status: 0 table written; 1 .*12 a LIB does not provide/s);
  });
});
