// `abilink relink --in-place`, the glibc security-fix scenario: a fake store with two copies
// of the system's glibc (A, and B at a longer path), a store path of real programs pointed at
// A with `abilink patch`, relinked onto B; A deleted; every program runs as before, and ld.so's
// own trace shows ld.so and libc loaded from B only. Refusals write nothing.
import { execa } from "execa";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";
import { withTmpDir } from "../support/tmp.js";
import { hasFiles, hasTool } from "../support/tools.js";

const GLIBC = ["ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libresolv.so.2", "libnss_files.so.2", "libnss_dns.so.2"];
const SYS = "/lib/x86_64-linux-gnu";
// Coreutils (C, PIE) that every Debian machine has, run with --version.
const PROGRAMS = ["ls", "cat", "cp", "mv", "rm", "mkdir", "touch", "echo", "head", "tail", "wc", "sort", "uniq", "cut", "tr", "date", "env", "id", "basename", "dirname", "du", "tee"];
const fx = (p: string) => new URL(`../../testdata/${p}`, import.meta.url).pathname;

let tmp = "";
withTmpDir((p) => (tmp = p));
let store = "";
let A = "";
let B = "";
let app = "";

/** A program's --version output, or its run of a test program (no --version). */
async function run(path: string, env: Record<string, string> = {}, given?: string[]) {
  const args = given ?? (path.endsWith("-cc") || path.endsWith("-m") ? [] : ["--version"]);
  const r = await execa(path, args, { reject: false, env: { LC_ALL: "C", ...env }, stdin: "ignore" });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}
const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n)).toString("base64")]));

describe.skipIf(!hasTool("gcc", "gcc") || !hasTool("g++", "g++") || !hasFiles(GLIBC.map((l) => (l.startsWith("ld-") ? `/lib64/${l}` : `${SYS}/${l}`)), "libc6"))(
  "abilink relink: the glibc security fix",
  () => {
    beforeEach(async () => {
      store = join(tmp, `store-${Math.random().toString(36).slice(2, 8)}`);
      A = join(store, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-glibc-2.36-A");
      B = join(store, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-glibc-2.36-B-security-fix");
      app = join(store, "cccccccccccccccccccccccccccccccc-app");
      for (const d of [join(A, "lib"), join(B, "lib"), join(app, "bin"), join(app, "lib")]) mkdirSync(d, { recursive: true });
      for (const l of GLIBC) {
        copyFileSync(l.startsWith("ld-") ? `/lib64/${l}` : `${SYS}/${l}`, join(A, "lib", l));
        copyFileSync(join(A, "lib", l), join(B, "lib", l));
      }
      for (const p of PROGRAMS) copyFileSync(`/usr/bin/${p}`, join(app, "bin", p));
      // The C++ runtime goes in the store too, pointed at A, as in a Nix closure: a library from
      // the system would load the system's libm beside B's libc, which the check refuses.
      for (const l of ["libz.so.1", "libstdc++.so.6", "libgcc_s.so.1"]) copyFileSync(`${SYS}/${l}`, join(app, "lib", l));
      // C++ (libstdc++, exceptions) built non-PIE, and a C program that needs libm.
      await execa("g++", ["-no-pie", "-O1", "-o", join(app, "bin", "hello-cc"), fx("src/hello.cc")]);
      const m = join(tmp, "m.c");
      await execa("sh", ["-c", `printf '#include <math.h>\\n#include <stdio.h>\\nint main(int c, char **v) { printf("%.3f\\\\n", cos((double)c)); return 0; }\\n' > ${m}`]);
      await execa("gcc", ["-o", join(app, "bin", "cos-m"), m, "-lm"]);
      const r = await abilink(["patch", "--set-interpreter", join(A, "lib", "ld-linux-x86-64.so.2"), "--set-runpath", `${join(A, "lib")}:${join(app, "lib")}`, ...readdirSync(join(app, "bin")).map((n) => join(app, "bin", n))]);
      expect(r.code, r.stderr).toBe(0);
      const libs = readdirSync(join(app, "lib")).map((n) => join(app, "lib", n));
      expect((await abilink(["patch", "--set-runpath", `${join(A, "lib")}:${join(app, "lib")}`, ...libs])).code).toBe(0);
    }, 60_000);

    it("relinks every program onto B in place; with A gone they run as before and load ld.so and libc from B only", async () => {
      const programs = readdirSync(join(app, "bin")).map((n) => join(app, "bin", n));
      expect(programs.length).toBeGreaterThanOrEqual(20);
      const before = await Promise.all(programs.map((p) => run(p)));
      for (const [i, b] of before.entries()) expect(b.code, programs[i]).toBe(0);

      const dry = await abilink(["relink", "--dry-run", "--json", app, "--replace", `${A}=${B}`]);
      expect(dry.code, dry.stderr).toBe(0);
      const plan = JSON.parse(dry.stdout);
      expect(plan.failures).toEqual([]);
      expect(plan.files.filter((f: { kind: string }) => f.kind === "rewrite")).toHaveLength(programs.length + 3);
      expect(plan.written).toBe(0);

      const r = await abilink(["relink", "--in-place", app, "--replace", `${A}=${B}`]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      expect(r.stdout).toMatch(new RegExp(`${programs.length + 3} files rewritten`));
      rmSync(A, { recursive: true });
      const after = await Promise.all(programs.map((p) => run(p)));
      expect(after).toEqual(before);
      for (const p of [join(app, "bin", "ls"), join(app, "bin", "hello-cc")]) {
        const trace = (await run(p, { LD_DEBUG: "libs" })).stderr;
        const inits = [...trace.matchAll(/calling init: (\S+)/g)].map((m) => m[1]!);
        expect(inits.filter((x) => /\/(ld-linux-x86-64\.so\.2|libc\.so\.6)$/.test(x)).sort()).toEqual([join(B, "lib", "ld-linux-x86-64.so.2"), join(B, "lib", "libc.so.6")]);
        expect(trace).not.toContain(A);
      }
      // Run again: nothing left to do.
      const again = await abilink(["relink", "--in-place", app, "--replace", `${A}=${B}`]);
      expect(again.stdout).toMatch(/0 to rewrite/);
    }, 120_000);

    it("a NEW libc that lacks a version some program needs is refused: exit 12, every file untouched", async () => {
      // libc B without GLIBC_2.34 (where __libc_start_main@GLIBC_2.34 lives): its stub, from an edited manifest.
      const text = (await abilink(["abi", "--hints", join(B, "lib", "libc.so.6")])).stdout;
      const edited = text
        .split("\n")
        .filter((l) => l !== "version GLIBC_2.34" && !/@@?GLIBC_2\.34 /.test(l) && !/^hint-(order|sizes|ifunc|versions)/.test(l))
        .join("\n");
      const manifest = join(tmp, "libc-without-2.34.abi");
      await execa("sh", ["-c", `cat > ${manifest}`], { input: edited + "\n" });
      expect((await abilink(["stub", manifest, "-o", join(B, "lib", "libc.so.6")])).code).toBe(0);
      const before = snapshot(join(app, "bin"));
      const r = await abilink(["relink", "--in-place", app, "--replace", `${A}=${B}`]);
      expect(r.code).toBe(12);
      expect(r.stdout).toMatch(/ABI check refuses .*\/bin\/ls:\n {2}version-missing GLIBC_2\.34/);
      expect(r.stdout).toMatch(/; nothing written; [\d.]+ s$/m);
      expect(snapshot(join(app, "bin"))).toEqual(before);
    }, 60_000);

    it("a replacement that would take libc from one build and libm from another is refused", async () => {
      // cos-m's RUNPATH: A, then D (a directory with libm only). Today libm comes from A; B
      // has no libm, so after the move it would come from D beside B's libc.
      const D = join(store, "dddddddddddddddddddddddddddddddd-libm-only");
      mkdirSync(join(D, "lib"), { recursive: true });
      copyFileSync(join(A, "lib", "libm.so.6"), join(D, "lib", "libm.so.6"));
      rmSync(join(B, "lib", "libm.so.6"));
      expect((await abilink(["patch", "--set-runpath", `${join(A, "lib")}:${join(D, "lib")}`, join(app, "bin", "cos-m")])).code).toBe(0);
      const before = snapshot(join(app, "bin"));
      const r = await abilink(["relink", "--in-place", app, "--replace", `${A}=${B}`]);
      expect(r.code).toBe(12);
      expect(r.stdout).toMatch(/ABI check refuses .*cos-m:\n.*glibc from 2 builds/);
      expect(snapshot(join(app, "bin"))).toEqual(before);
      // A mix the file has already is not the replacement's doing: with B complete, it passes.
      copyFileSync(join(A, "lib", "libm.so.6"), join(B, "lib", "libm.so.6"));
      expect((await abilink(["relink", "--dry-run", app, "--replace", `${A}=${B}`])).code).toBe(0);
    }, 60_000);

    it("a static program is listed as needing a rebuild, and left as it is", async () => {
      const c = join(tmp, "static.c");
      await execa("sh", ["-c", `printf 'int main(void) { return 0; }\\n' > ${c}`]);
      const r0 = await execa("gcc", ["-static", "-o", join(app, "bin", "static"), c], { reject: false });
      expect(r0.exitCode, r0.stderr).toBe(0);
      const bytes = readFileSync(join(app, "bin", "static"));
      const r = await abilink(["relink", "--in-place", app, "--replace", `${A}=${B}`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/needs rebuild: .*\/bin\/static: statically linked/);
      expect(readFileSync(join(app, "bin", "static")).equals(bytes)).toBe(true);
      expect(existsSync(A)).toBe(true);
      renameSync(A, `${A}-gone`);
      expect((await run(join(app, "bin", "ls"))).code).toBe(0);
    }, 60_000);

    it("a plugin whose imports its host program provides is not refused: the check refuses only what the replacement breaks", async () => {
      const c = join(tmp, "plugin.c");
      await execa("sh", ["-c", `printf 'extern int host_fn(void);\nint plugin(void) { return host_fn() + 1; }\n' > ${c}`]);
      await execa("gcc", ["-shared", "-fPIC", "-o", join(app, "lib", "plugin.so"), c, `-Wl,-rpath,${join(A, "lib")}`]);
      const r = await abilink(["relink", "--dry-run", "--json", app, "--replace", `${A}=${B}`]);
      expect(r.code, r.stdout).toBe(0);
      expect(JSON.parse(r.stdout).failures).toEqual([]);
      // compat itself reports the missing import, today and after.
      const compat = await abilink(["compat", join(app, "lib", "plugin.so")]);
      expect(compat.stdout).toMatch(/host_fn/);
    }, 60_000);

    it("with OLD gone (a collected store path), nothing is excused: a NEW that lacks a library is refused", async () => {
      rmSync(join(B, "lib", "libm.so.6"));
      renameSync(A, `${A}-gone`);
      const r = await abilink(["relink", "--dry-run", app, "--replace", `${A}=${B}`]);
      expect(r.code).toBe(12);
      // libm is then found among the system's libraries, beside B's libc: two builds.
      expect(r.stdout).toMatch(/ABI check refuses .*cos-m:\n.*glibc from 2 builds.*libm\.so\.6 from /);
    }, 60_000);

    it("a program that calls dlopen and a plugin nothing under the roots needs are listed as unchecked, never refused", async () => {
      // dlopen-print loads the plugin it is given: neither is in a load set the check builds from NEEDED.
      const loader = join(app, "bin", "dl-loader");
      await execa("gcc", ["-O1", "-o", loader, fx("src/dlopen-print.c"), "-ldl"]);
      expect((await abilink(["patch", "--set-interpreter", join(A, "lib", "ld-linux-x86-64.so.2"), "--set-runpath", join(A, "lib"), loader])).code).toBe(0);
      const c = join(tmp, "greeting.c");
      await execa("sh", ["-c", `printf 'const char greeting[] = "hello";\\n' > ${c}`]);
      const plugin = join(app, "lib", "greeting.so");
      await execa("gcc", ["-shared", "-fPIC", "-o", plugin, c, `-Wl,-rpath,${join(A, "lib")}`]);
      expect((await run(loader, {}, [plugin, "greeting"])).stdout).toBe("greeting=hello");
      const dry = await abilink(["relink", "--dry-run", "--json", app, "--replace", `${A}=${B}`]);
      expect(dry.code, dry.stdout).toBe(0);
      const unchecked: { path: string; why: string }[] = JSON.parse(dry.stdout).unchecked;
      expect(unchecked).toContainEqual({ path: loader, why: "calls dlopen: libraries it opens at run time are not checked" });
      expect(unchecked).toContainEqual({ path: plugin, why: "no file under the roots needs it (a plugin loaded with dlopen?): checked on its own, not with its host" });
      // Programs that do not call dlopen, and libraries a file under the roots needs, are not listed.
      const listed = unchecked.map((u) => u.path);
      for (const p of ["ls", "cos-m", "hello-cc"]) expect(listed).not.toContain(join(app, "bin", p));
      expect(listed).not.toContain(join(app, "lib", "libstdc++.so.6"));
      expect(unchecked.filter((u) => u.why.startsWith("calls dlopen")).map((u) => u.path)).toEqual([loader]);
      // The text report names them; neither they nor --strict change the exit status.
      const text = await abilink(["relink", "--dry-run", "--strict", app, "--replace", `${A}=${B}`]);
      expect(text.code, text.stdout).toBe(0);
      expect(text.stdout).toContain(`unchecked: ${loader}: calls dlopen: libraries it opens at run time are not checked\n`);
      expect(text.stdout).toContain(`unchecked: ${plugin}: no file under the roots needs it (a plugin loaded with dlopen?)`);
      const r = await abilink(["relink", "--in-place", app, "--replace", `${A}=${B}`]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      expect(r.stdout).toMatch(/unchecked: .*dl-loader: calls dlopen/);
      // The text report lists the first 10 and the count; -v lists them all.
      for (let i = 0; i < 10; i++) copyFileSync(plugin, join(app, "lib", `greeting-${i}.so`));
      const n = JSON.parse((await abilink(["relink", "--dry-run", "--json", app, "--replace", `${A}=${B}`])).stdout).unchecked.length;
      expect(n).toBeGreaterThan(10);
      const capped = (await abilink(["relink", "--dry-run", app, "--replace", `${A}=${B}`])).stdout;
      expect(capped.match(/^unchecked: /gm)).toHaveLength(10);
      expect(capped).toContain(`\n  and ${n - 10} more (${n} unchecked; -v lists them all)\n`);
      expect((await abilink(["relink", "--dry-run", "-v", app, "--replace", `${A}=${B}`])).stdout.match(/^unchecked: /gm)).toHaveLength(n);
    }, 60_000);

    it("glibc's own libraries (NSS modules, libpthread, …) are not listed as needed by nothing", async () => {
      // A's glibc as a root of its own: nothing in it NEEDs libnss_files, libpthread or libdl.
      const r = await abilink(["relink", "--dry-run", "--json", A, "--replace", `${A}=${B}`]);
      expect(r.code, r.stdout).toBe(0);
      const plan = JSON.parse(r.stdout);
      expect(plan.checked).toBe(GLIBC.length);
      expect(plan.unchecked).toEqual([]);
    }, 60_000);

    it("a library that needs libm but not libc, checked on its own, takes libm's libc from libm's build: no false 'glibc from 2 builds'", async () => {
      // As a process would: libm's libc.so.6 is the libc of libm's own build, not the system's.
      const c = join(tmp, "onlym.c");
      await execa("sh", ["-c", `printf '#include <math.h>\\ndouble onlym(double x) { return cos(x); }\\n' > ${c}`]);
      const lib = join(app, "lib", "libonlym.so.1");
      await execa("gcc", ["-shared", "-fPIC", "-O1", "-Wl,-soname,libonlym.so.1", "-o", lib, c, "-Wl,--as-needed", "-lm"]);
      const needed = [...(await execa("readelf", ["-dW", lib])).stdout.matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]);
      expect(needed).toEqual(["libm.so.6"]);
      expect((await abilink(["patch", "--set-runpath", join(A, "lib"), lib])).code).toBe(0);
      // With A gone nothing is excused as a problem the file has today: the check alone decides.
      renameSync(A, `${A}-gone`);
      const dry = await abilink(["relink", "--dry-run", "--json", app, "--replace", `${A}=${B}`]);
      renameSync(`${A}-gone`, A);
      expect(dry.code, dry.stdout).toBe(0);
      const plan = JSON.parse(dry.stdout);
      expect(plan.failures).toEqual([]);
      expect(plan.files).toContainEqual(expect.objectContaining({ kind: "rewrite", path: lib }));
      const r = await abilink(["relink", "--in-place", app, "--replace", `${A}=${B}`]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      expect((await execa("readelf", ["-dW", lib])).stdout).toContain(`[${join(B, "lib")}]`);
    }, 60_000);

    it("usage: --replace is required and must be OLD=NEW, absolute; one of --in-place and --dry-run", async () => {
      expect((await abilink(["relink", "--dry-run", app])).code).toBe(2);
      expect((await abilink(["relink", "--dry-run", app, "--replace", "relative=/x"])).code).toBe(2);
      expect((await abilink(["relink", app, "--replace", `${A}=${B}`])).code).toBe(2);
    });
  },
);

describe.skipIf(!hasTool("script", "bsdutils"))("abilink relink on a terminal", () => {
  it("draws its progress on stderr (cli-progress), erased before the report; none without a terminal", async () => {
    const cmd = `node ${new URL("../../bin/abilink", import.meta.url).pathname} relink --dry-run /usr/bin --replace /nonexistent=/x`;
    const tty = await execa("script", ["-qec", cmd, "/dev/null"], { reject: false, env: { LC_ALL: "C", TERM: "xterm" } });
    expect(tty.stdout).toMatch(/reading \d+ files/);
    const last = tty.stdout.trimEnd().split("\n").at(-1)!;
    expect(last).toMatch(/ELF files: .* nothing written \(--dry-run\); [\d.]+ s\r?$/);
    const plain = await abilink(["relink", "--dry-run", "/usr/bin", "--replace", "/nonexistent=/x"]);
    expect(plain.stderr).toBe("");
    expect(plain.stdout).not.toMatch(/\x1b|reading \d+ files/);
  }, 60_000);
});

describe("abilink relink: what a review found", () => {
  it("a root that does not exist, or a FIFO, is one line and exit 1 (never an internal error)", async () => {
    const r = await abilink(["relink", "--dry-run", join(tmp, "no-such-root"), "--replace", "/a=/b"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no such file or directory/);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });

  it("ambiguous replacements are refused (exit 2): NEW under an OLD, an OLD under another, an OLD under another's NEW, OLD = NEW, a colon in NEW", async () => {
    // An OLD under another's NEW (a table's directory, say): the rewrite's edits would move a path twice, the check once.
    for (const pairs of [["/a=/a/fix"], ["/a=/b", "/a/c=/d"], ["/a=/a"], ["/a=/b:/c"], ["/y=/w", "/a=/y"], ["/a=/t", "/t/lib/x=/n"], ["/t/lib/x=/n", "/a=/t"]]) {
      const r = await abilink(["relink", "--dry-run", tmp, ...pairs.flatMap((p) => ["--replace", p])]);
      expect([pairs.join(" "), r.code]).toEqual([pairs.join(" "), 2]);
    }
  });

  it("a file reached through a directory that now leads out of the roots is refused, and a write finds the planned file or refuses", async () => {
    const { planRelinkFiles } = await import("../../src/closure/relink.js");
    const { patchFile } = await import("../../src/patch/patch-file.js");
    const root = join(tmp, "race-root");
    const outside = join(tmp, "race-outside");
    mkdirSync(root, { recursive: true });
    mkdirSync(outside, { recursive: true });
    copyFileSync(fx("fixtures/x86_64/prog-rpath"), join(outside, "prog"));
    // As if a directory under the root were swapped for a link after the walk listed its file.
    symlinkSync(outside, join(root, "a"));
    const plan = await planRelinkFiles([join(root, "a", "prog")], [{ from: "/x", to: "/y" }], { roots: [root], abiCheck: false });
    expect(plan.files).toEqual([{ kind: "error", path: join(root, "a", "prog"), message: expect.stringMatching(/is outside the roots/) }]);
    // The write side: a path whose real file is not the one planned is refused, nothing written.
    const before = readFileSync(join(outside, "prog"));
    expect(() =>
      patchFile(join(outside, "prog"), [{ op: "set-search-path", paths: ["/y"], kind: "rpath" }], { policy: { expected: { [join(outside, "prog")]: "0:0" } } }),
    ).toThrow(/is not the file that was planned and checked/);
    expect(() => patchFile(join(root, "a", "prog"), [{ op: "set-search-path", paths: ["/y"], kind: "rpath" }], { policy: { within: [root] } })).toThrow(/is outside the roots now/);
    expect(readFileSync(join(outside, "prog")).equals(before)).toBe(true);
  });
});

describe.skipIf(process.getuid?.() !== 0)("abilink relink against another user's races (root runs it in their tree)", () => {
  it("a directory under the root swapped for a link to another tree while relink writes never gets that tree's files rewritten (they are refused)", async () => {
    const { chmodSync, chownSync, lstatSync, mkdtempSync, writeFileSync: write } = await import("node:fs");
    // The attacker must reach the tree: everything above it searchable.
    chmodSync(tmp, 0o755);
    const base = mkdtempSync(join(tmp, "race-"));
    chmodSync(base, 0o755);
    const root = join(base, "userroot");
    const victims = join(base, "victims");
    mkdirSync(join(root, "sub"), { recursive: true });
    mkdirSync(victims);
    const OLD = "/opt/abilink-race-old";
    const NEW = "/opt/abilink-race-new-and-longer";
    // The same programs (RUNPATH OLD) in the user's tree and in root's: the victims.
    const prog = join(base, "prog");
    copyFileSync(fx("fixtures/x86_64/prog"), prog);
    expect((await abilink(["patch", "--set-runpath", `${OLD}/lib`, prog])).code).toBe(0);
    for (let i = 0; i < 300; i++) {
      copyFileSync(prog, join(root, "sub", `p${i}`));
      copyFileSync(prog, join(victims, `p${i}`));
    }
    const victimBytes = readFileSync(join(victims, "p0"));
    chownSync(root, 65534, 65534);
    chownSync(join(root, "sub"), 65534, 65534);
    for (const n of readdirSync(join(root, "sub"))) chownSync(join(root, "sub", n), 65534, 65534);
    // The attacker (nobody) waits for relink to start writing in root/sub (its private
    // directory appears there), then swaps root/sub for a link to the victims: every file
    // planned after that, reached by its path, would be a victim's.
    const attacker = `
      const fs = require("fs");
      const sub = ${JSON.stringify(join(root, "sub"))}, victims = ${JSON.stringify(victims)};
      const w = fs.watch(sub, (ev, name) => {
        if (!String(name).startsWith(".abilink-")) return;
        w.close();
        try { fs.renameSync(sub, sub + "-away"); fs.symlinkSync(victims, sub); } catch (e) { console.error(e.message); }
        setTimeout(() => process.exit(0), 100);
      });
      setTimeout(() => process.exit(0), 60000);
    `;
    write(join(base, "attacker.js"), attacker);
    const child = execa("node", [join(base, "attacker.js")], { uid: 65534, gid: 65534, reject: false });
    await new Promise((r) => setTimeout(r, 300));
    expect(child.exitCode, "the attacker is running").toBeNull();
    let refused = 0;
    try {
      {
        const r = await abilink(["relink", "--in-place", "--no-abi-check", "-j", "1", root, "--replace", `${OLD}=${NEW}`]);
        expect([0, 1]).toContain(r.code);
        expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
        refused += (r.stderr.match(/outside the roots|not the file that was planned/g) ?? []).length;
        for (const n of readdirSync(victims)) expect(readFileSync(join(victims, n)).equals(victimBytes), `victims/${n}`).toBe(true);
      }
    } finally {
      child.kill();
      await child;
    }
    // The race was run: the files after the swap were found outside the roots and refused.
    expect(refused).toBeGreaterThan(0);
    expect(lstatSync(join(root, "sub")).isSymbolicLink()).toBe(true);
  }, 120_000);
});
