// compat against ld.so: each case builds a program and its libraries with gcc from
// testdata/compat/, runs it with the replaced library (LD_BIND_NOW=1), and checks that
// compat's verdict and problems say what ld.so did.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { dir } from "tmp-promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compatCheck, readLibraries } from "../../src/closure/ld-so.js";
import { abilink } from "../support/cli.js";

const src = (p: string) => new URL(`../../testdata/compat/${p}`, import.meta.url).pathname;
let tmp: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ path: tmp, cleanup } = await dir({ unsafeCleanup: true }));
});
afterAll(() => cleanup());

const gcc = (...args: string[]) => execa("gcc", args);
const run = (prog: string, libDir: string) =>
  execa(prog, [], { reject: false, env: { LD_BIND_NOW: "1", LD_LIBRARY_PATH: libDir }, extendEnv: false });

describe("copy relocations of unversioned data (no version script)", () => {
  let app: string;
  const lib = async (name: string, words: number) => {
    mkdirSync(join(tmp, name), { recursive: true });
    await gcc("-shared", "-fPIC", `-DORIGIN_WORDS=${words}`, "-o", join(tmp, name, "libpt.so.1"), "-Wl,-soname,libpt.so.1", src("copy-lib.c"));
    return join(tmp, name, "libpt.so.1");
  };
  beforeAll(async () => {
    await lib("v1", 1);
    app = join(tmp, "copy-app");
    await gcc("-no-pie", "-fno-PIE", "-o", app, src("copy-app.c"), join(tmp, "v1", "libpt.so.1"));
    const relocs = (await execa("readelf", ["-rW", app])).stdout;
    expect(relocs).toMatch(/R_X86_64_COPY .* origin \+ 0/);
  });

  it("origin grown from 4 to 12 bytes: ld.so warns and truncates; compat reports copy-grown", async () => {
    await lib("v2", 3);
    const r = await run(app, join(tmp, "v2"));
    expect(r.stderr).toMatch(/Symbol `origin' has different size in shared object, consider re-linking/);
    const report = compatCheck(app, { libs: readLibraries([join(tmp, "v2")]) });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.kind, p.subject, p.object, p.severity])).toEqual([["copy-grown", "origin", app, "error"]]);
    expect(report.problems[0]!.detail).toMatch(/the copy holds 4 bytes, .*libpt\.so\.1 now defines 12/);
    const cli = await abilink(["compat", app, "--lib", join(tmp, "v2", "libpt.so.1")]);
    expect(cli.code).toBe(12);
  });

  it("origin unchanged or shrunk: ld.so is silent; compat says ok", async () => {
    for (const [name, words] of [["same", 1], ["shrunk", 0.5]] as const) {
      // 0.5 words: a 2-byte origin, built from a short.
      if (words < 1) {
        mkdirSync(join(tmp, name), { recursive: true });
        writeFileSync(join(tmp, name, "lib.c"), "short origin = 1;\nint pt_get(void) { return 7; }\n");
        await gcc("-shared", "-fPIC", "-o", join(tmp, name, "libpt.so.1"), "-Wl,-soname,libpt.so.1", join(tmp, name, "lib.c"));
      } else {
        await lib(name, words);
      }
      const r = await run(app, join(tmp, name));
      expect(r.exitCode, name).toBe(0);
      expect(r.stderr, name).toBe("");
      expect(compatCheck(app, { libs: readLibraries([join(tmp, name)]) }).problems, name).toEqual([]);
    }
  });

  it("origin gone: ld.so stops (undefined symbol); compat reports copy-missing", async () => {
    await lib("v0", 0);
    const r = await run(app, join(tmp, "v0"));
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toMatch(/undefined symbol: origin/);
    const report = compatCheck(app, { libs: readLibraries([join(tmp, "v0")]) });
    expect(report.problems.map((p) => `${p.kind} ${p.subject}`)).toEqual(["copy-missing origin"]);
  });
});

describe("every object in the load set is checked, and the problem names the object that needs it", () => {
  let app: string;
  const buildB = async (name: string, renamed: boolean) => {
    mkdirSync(join(tmp, "chain", name), { recursive: true });
    const out = join(tmp, "chain", name, "libchain-b.so");
    await gcc("-shared", "-fPIC", ...(renamed ? ["-DRENAMED"] : []), "-o", out, "-Wl,-soname,libchain-b.so", src("chain-b.c"));
    return out;
  };
  beforeAll(async () => {
    const b = await buildB("good", false);
    const a = join(tmp, "chain", "good", "libchain-a.so");
    await gcc("-shared", "-fPIC", "-o", a, "-Wl,-soname,libchain-a.so", src("chain-a.c"), b, "-Wl,-rpath,$ORIGIN");
    app = join(tmp, "chain", "app");
    await gcc("-o", app, src("chain-app.c"), a, `-Wl,-rpath,${join(tmp, "chain", "good")}`);
    await buildB("bad", true);
  });

  it("a library's own import, gone from its dependency: ld.so names the library; so does compat", async () => {
    const good = await run(app, join(tmp, "chain", "good"));
    expect(good.stdout).toBe("42");
    const bad = await run(app, join(tmp, "chain", "bad"));
    expect(bad.exitCode).toBe(127);
    expect(bad.stderr).toMatch(/libchain-a\.so: undefined symbol: b_value/);
    expect(compatCheck(app).ok).toBe(true);
    const report = compatCheck(app, { libs: readLibraries([join(tmp, "chain", "bad")]) });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.kind, p.subject, p.object])).toEqual([
      ["symbol-missing", "b_value", join(tmp, "chain", "good", "libchain-a.so")],
    ]);
    const cli = await abilink(["compat", app, "--lib", join(tmp, "chain", "bad")]);
    expect(cli.code).toBe(12);
    expect(cli.stdout).toContain("symbol-missing         b_value (needed by libchain-a.so)");
  });

  it("the field trial's case: ls with a libpcre2-8 that lost pcre2_match_8, needed by libselinux", async () => {
    const pcre = "/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0";
    const needed = (await execa("readelf", ["-dW", "/usr/lib/x86_64-linux-gnu/libselinux.so.1"])).stdout;
    expect(needed).toContain("[libpcre2-8.so.0]");
    const at = join(tmp, "pcre");
    mkdirSync(at);
    copyFileSync(pcre, join(at, "libpcre2-8.so.0"));
    writeFileSync(join(at, "rename.map"), "pcre2_match_8 pcre2_matcX_8\n");
    const renamed = await abilink(["patchelf", "--rename-dynamic-symbols", join(at, "rename.map"), join(at, "libpcre2-8.so.0")]);
    expect(renamed.code).toBe(0);
    const r = await execa("/usr/bin/ls", ["/"], { reject: false, env: { LD_BIND_NOW: "1", LD_LIBRARY_PATH: at } });
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toMatch(/libselinux\.so\.1: undefined symbol: pcre2_match_8/);
    const report = compatCheck("/usr/bin/ls", { libs: readLibraries([join(at, "libpcre2-8.so.0")]) });
    expect(report.problems.map((p) => [p.kind, p.subject, p.object])).toEqual([
      ["symbol-missing", "pcre2_match_8", "/lib/x86_64-linux-gnu/libselinux.so.1"],
    ]);
  });

  it("compat's command line: --lib DIR, --ignore-symbol, --ignore-version, -v and JSON Lines", async () => {
    const dirLibs = join(tmp, "chain", "bad");
    const app = join(tmp, "chain", "app");
    const plain = await abilink(["compat", app, "--lib", dirLibs]);
    expect(plain.code).toBe(12);
    const ignored = await abilink(["compat", app, "--lib", dirLibs, "--ignore-symbol", "b_*"]);
    expect(ignored.code).toBe(0);
    expect(ignored.stdout).toMatch(/^.*app: ok, 1 ignored \(loads libchain-a\.so, libc\.so\.6, libchain-b\.so, /);
    // Versions: ls needs GLIBC_2.x; ignoring them hides nothing here, as nothing is missing.
    expect((await abilink(["compat", "/usr/bin/ls", "--ignore-version", "GLIBC_*"])).code).toBe(0);
    const quiet = await abilink(["compat", "/usr/bin/ls"]);
    expect(quiet.stdout).not.toMatch(/__gmon_start__|_ITM_/);
    const verbose = await abilink(["compat", "-v", "/usr/bin/ls"]);
    expect(verbose.code).toBe(0);
    expect(verbose.stdout).toMatch(/warning  symbol-missing\s+__gmon_start__: no loaded object defines __gmon_start__/);
    const json = await abilink(["compat", "--json", app, "/usr/bin/ls", "--lib", dirLibs]);
    expect(json.code).toBe(12);
    const lines = json.stdout.split("\n");
    expect(lines.map((l) => JSON.parse(l).path)).toEqual([app, "/usr/bin/ls"]);
    expect(lines.map((l) => JSON.parse(l).ok)).toEqual([false, true]);
  });

  it("compat's command line: a --lib that cannot be read is blamed, not the binary", async () => {
    const r = await abilink(["compat", "/usr/bin/ls", "--lib", join(tmp, "nowhere")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--lib ${join(tmp, "nowhere")}: `);
    expect(r.stderr).not.toContain("/usr/bin/ls");
  });
});
