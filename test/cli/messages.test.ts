// Error lines across commands: `abilink: <the path at fault>: <a sentence>`, one line, no
// errno code, system call or stack trace; an output that cannot be written is named, not
// the input it was made from.
import { execa } from "execa";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { abilink, bin } from "../support/cli.js";
import { systemLib } from "../support/tools.js";
import { withTmpDir } from "../support/tmp.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const libz = systemLib("libz.so.1");
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("skipping tests that need root (a second user): run the suite as root, as CI does");

let tmp = "";
withTmpDir((path) => (tmp = path));

/** The one line a failed run printed; it carries no errno code or stack. */
function oneLine(r: { stderr: string }): string {
  expect(r.stderr.split("\n")).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\bE[A-Z]{3,}\b|internal error|    at /);
  return r.stderr;
}

describe("system errors read as sentences, for every command", () => {
  it("a directory, a missing file", async () => {
    const missing = join(tmp, "missing.so");
    const cases: [string[], string][] = [
      [["abi", tmp], `abilink: ${tmp}: is a directory`],
      [["hash", missing], `abilink: ${missing}: no such file or directory`],
      [["diff", missing, libz], `abilink: ${missing}: no such file or directory`],
      [["inspect", tmp], `abilink: ${tmp}: is a directory`],
      [["inspect", missing], `abilink: ${missing}: no such file or directory`],
      [["scan", missing], `abilink: ${missing}: no such file or directory`],
      [["patch", "--set-soname", "x", tmp], `abilink: ${tmp}: is a directory`],
      [["patch", "--set-soname", "x", missing], `abilink: ${missing}: no such file or directory`],
    ];
    for (const [args, line] of cases) {
      const r = await abilink(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(oneLine(r)).toBe(line);
    }
  });

  it.skipIf(!isRoot)("a file another user cannot read or replace: permission denied", async () => {
    const d = join(tmp, "private");
    mkdirSync(d);
    chmodSync(tmp, 0o755);
    const lib = join(d, "libz.so.1");
    copyFileSync(libz, lib);
    chmodSync(lib, 0o600);
    const asNobody = (args: string[]) => execa("node", [bin, ...args], { uid: 65534, gid: 65534, reject: false, stdin: "ignore" });
    for (const args of [["patch", "--set-soname", "libx.so", lib], ["hash", lib], ["inspect", lib], ["abi", lib]]) {
      const r = await asNobody(args);
      expect(r.exitCode, args.join(" ")).toBe(1);
      expect(oneLine(r)).toBe(`abilink: ${lib}: permission denied`);
    }
    expect(readFileSync(lib)).toEqual(readFileSync(libz));
  });
});

describe("an output that cannot be written is named, not the input", () => {
  it("patch -o, abi -o and patchelf --output into a missing directory", async () => {
    const out = join(tmp, "missing", "dir", "x");
    const cases: [string[], string][] = [
      [["patch", "--set-soname", "libx.so", "-o", out, libz], `abilink: ${out}: no such file or directory`],
      [["abi", "-o", out, libz], `abilink: ${out}: no such file or directory`],
      [["patchelf", "--set-soname", "libx.so", "--output", out, libz], `patchelf: opening '${out}': No such file or directory`],
    ];
    for (const [args, line] of cases) {
      const r = await abilink(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(oneLine(r)).toBe(line);
    }
    const json = await abilink(["patch", "--json", "--set-soname", "libx.so", "-o", out, libz]);
    expect(JSON.parse(json.stdout)).toEqual({ path: libz, error: `${out}: no such file or directory` });
  });

  it("an output that is a directory, or inside the Nix store", async () => {
    const lib = join(tmp, "libvers.so.1");
    copyFileSync(fx("x86_64/libvers.so.1"), lib);
    const before = readdirSync(tmp).sort();
    for (const args of [["abi", "-o", tmp, lib], ["patch", "--set-soname", "libx.so", "-o", tmp, lib]]) {
      const r = await abilink(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(oneLine(r)).toBe(`abilink: ${tmp}: is a directory, not a regular file: refusing to replace it`);
    }
    const store = join(tmp, "store");
    mkdirSync(store);
    const inStore = join(store, "libx.so");
    const r = await execa("node", [bin, "patch", "--set-soname", "libx.so", "-o", inStore, lib], { env: { NIX_STORE_DIR: store }, reject: false, stdin: "ignore" });
    expect(r.exitCode).toBe(1);
    expect(oneLine(r)).toMatch(new RegExp(`^abilink: ${inStore}: is inside the Nix store`));
    // Nothing half-written anywhere.
    expect(readdirSync(tmp).sort()).toEqual([...before, "store"].sort());
    expect(readdirSync(store)).toEqual([]);
  });
});
