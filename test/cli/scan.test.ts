import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { dir } from "tmp-promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;

let root: string;
let outside: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const d = await dir({ unsafeCleanup: true });
  cleanup = d.cleanup;
  root = join(d.path, "root");
  outside = join(d.path, "outside");
  mkdirSync(join(root, "lib", "deep", "er"), { recursive: true });
  mkdirSync(join(root, "bin"), { recursive: true });
  mkdirSync(outside);
  copyFileSync(fx("x86_64/libvers.so.1"), join(root, "lib", "libvers.so.1"));
  copyFileSync(fx("ppc64/libvers.so.1"), join(root, "lib", "deep", "er", "ppc.so"));
  copyFileSync(fx("i386/prog"), join(root, "bin", "prog32"));
  writeFileSync(join(root, "bin", "script.sh"), "#!/bin/sh\n");
  writeFileSync(join(root, "bin", "empty"), "");
  // A malformed ELF file: the magic and then nothing useful.
  writeFileSync(join(root, "bin", "broken"), readFileSync(fx("x86_64/prog")).subarray(0, 70));
  copyFileSync(fx("s390x/prog"), join(outside, "must-not-appear"));
  symlinkSync(outside, join(root, "link-to-outside"));
  symlinkSync(join(outside, "must-not-appear"), join(root, "file-link"));
  symlinkSync(join(root, "lib", "libvers.so.1"), join(root, "lib", "libvers.so"));
  chmodSync(join(root, "bin", "prog32"), 0o755);
});
afterAll(() => cleanup());

describe("abilink scan", () => {
  it("finds ELF files by content, each directory's files by name before its subdirectories, without following links", async () => {
    const r = await abilink(["scan", "--json", root]);
    const records = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(records.map((x) => x.path.slice(root.length))).toEqual(["/bin/prog32", "/lib/libvers.so.1", "/lib/deep/er/ppc.so"]);
    expect(records[0]).toMatchObject({ class: 32, machine: "i386", type: "DYN", needed: ["libvers.so.1", "libc.so.6"], runpath: ["$ORIGIN"] });
    expect(records[2]).toMatchObject({ class: 64, endian: "big", machine: "ppc64", soname: "libvers.so.1" });
    expect(records[1].size).toBe(readFileSync(fx("x86_64/libvers.so.1")).length);
    expect(records[1]).not.toHaveProperty("defined");
    // The malformed file is reported on stderr, and the exit status says so.
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^abilink: .*\/bin\/broken: .*past the end/)]);
    expect(r.code).toBe(1);
  });

  it("gives the same output with one worker and with several", async () => {
    const one = await abilink(["scan", "--json", "--jobs", "1", root]);
    const four = await abilink(["scan", "--json", "--jobs", "4", root]);
    expect(four.stdout).toBe(one.stdout);
    // /usr/lib holds tens of thousands of files: past the first 2,000 the scan moves to workers.
    const big1 = await abilink(["scan", "--json", "--jobs", "1", "/usr/lib"]);
    const big2 = await abilink(["scan", "--json", "--jobs", "2", "/usr/lib"]);
    expect(big2.stdout).toBe(big1.stdout);
    expect(big1.stdout.split("\n").length).toBeGreaterThan(500);
  });

  it("text output: one line per ELF file", async () => {
    const r = await abilink(["scan", join(root, "lib")]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual([
      `${root}/lib/libvers.so.1 ELF64 LE x86_64 DYN soname=libvers.so.1 needed=libc.so.6,ld-linux-x86-64.so.2`,
      `${root}/lib/deep/er/ppc.so ELF64 BE ppc64 DYN soname=libvers.so.1 needed=libc.so.6,ld64.so.1`,
    ]);
  });

  it("reports a missing root on stderr and exits 1", async () => {
    const r = await abilink(["scan", join(root, "nope"), join(root, "lib")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nope: no such file or directory$/m);
    expect(r.stdout.trim().split("\n")).toHaveLength(2);
  });
});
