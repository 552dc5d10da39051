// `abilink demo` through the built binary: --json's step results (hashes, stub bytes, ld.so's
// refusal of the stub, the versions the programs printed, the exit-12 refusals and relink's
// reason, step 3's PATH without a compiler, glibc's second build loaded) and the transcript's
// shape; gcc missing: one line, exit 1; SIGINT, SIGTERM and SIGHUP: the directory removed.
// The committed manifest picked for another target, and step 5's interpreter, without gcc.
import { execa } from "execa";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { firstInterpreter } from "../../src/demo/step-glibc.js";
import { pickManifest } from "../../src/demo/step-link.js";
import { abilink, bin } from "../support/cli.js";
import { withTmpDir } from "../support/tmp.js";
import { hasTool } from "../support/tools.js";

let tmp = "";
withTmpDir((p) => (tmp = p));

interface Command {
  step: number;
  argv: string[];
  shown: string;
  exitCode: number;
  path?: string;
}

describe.skipIf(!hasTool("gcc", "gcc"))("abilink demo", () => {
  // One run for the JSON tests, kept (--keep) so the store and step 3's PATH can be looked at.
  let doc: any;
  let dir = "";
  beforeAll(async () => {
    dir = join(tmp, "kept");
    const r = await abilink(["demo", "--json", "--keep", dir]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    doc = JSON.parse(r.stdout);
  }, 60_000);

  it("step 2: libdemo 1.0 provides the committed manifest; the programs linked against the stub do not run until relinked, then print 1.0", () => {
    const link = doc.steps.link;
    expect(link.hash).toMatch(/^abi2-[0-9a-z]{32}$/);
    expect(link.committedHash).toBe(link.hash);
    // demo/libdemo.abi is an x86_64 build's: elsewhere the 1.0 build's own manifest stands in for it.
    if (process.arch === "x64") expect([link.manifest, link.otherTarget]).toEqual(["demo/libdemo.abi", null]);
    else expect(link.manifest).toBe(`${doc.dir}/work/libdemo-1.0.abi`);
    for (const c of doc.commands.filter((c: Command) => c.argv.includes("--expect") || c.argv[2] === "stub" || c.argv[2] === "diff")) expect(c.argv).toContain(link.manifest);
    expect(link.stubSha256).toMatch(/^[0-9a-f]{64}$/);
    // ld.so refuses the stub itself, for its misaligned segment (not a library it cannot find).
    expect(link.stubRunExit).toBe(127);
    expect(link.stubRunError).toContain("libdemo.so.1: ELF load command address/offset not page-aligned");
    expect(link.printed).toEqual({ hello: "1.0", banner: "1.0" });
    // Each package in its own store path: STORE/<32 characters>-NAME.
    for (const p of Object.values<string>(doc.steps.build.libdemo)) expect(p).toMatch(/\/store\/[0-9a-z]{32}-libdemo-[0-9.]+\/lib\/libdemo\.so\.1$/);
    // The programs were compiled against the stub's directory, and relinked from it onto table 1.
    const gcc = doc.commands.filter((c: Command) => c.step === 2 && c.argv[0] === "gcc");
    expect(gcc.map((c: Command) => c.argv.find((a) => a.startsWith("-Wl,-rpath,")))).toEqual([`-Wl,-rpath,${link.stub}/lib`, `-Wl,-rpath,${link.stub}/lib`, `-Wl,-rpath,${link.unlinked.greeting}/lib`]);
    const relinks = doc.commands.filter((c: Command) => c.step === 2 && c.argv.includes("relink"));
    expect(relinks).toHaveLength(3);
    for (const c of relinks) expect(c.argv).toContain(`${link.stub}=${link.table}`);
  });

  it("step 3: libdemo 1.0.1 has 1.0's hash and the same stub bytes; the programs print 1.0.1; no compiler on PATH and none run", () => {
    const { link, fix } = doc.steps;
    expect(fix.hash).toBe(link.hash);
    expect(fix.diffExit).toBe(0);
    expect(fix.stubSha256).toBe(link.stubSha256);
    expect(fix.printed).toEqual({ hello: "1.0.1", banner: "1.0.1" });
    const step3 = doc.commands.filter((c: Command) => c.step === 3);
    expect(step3.length).toBeGreaterThan(5);
    for (const c of step3) {
      expect(c.path, c.shown).toBe(fix.path);
      expect(["gcc", "cc", "ld", "as", "collect2"]).not.toContain(basename(c.argv[0]!));
    }
    expect(step3.filter((c: Command) => c.argv.includes("relink")).every((c: Command) => c.argv.includes(`${link.table}=${fix.table}`))).toBe(true);
    // The PATH directory (kept) holds node and nothing a build needs.
    expect(readdirSync(fix.path)).toEqual(["node"]);
    expect(fix.pathEntries).toEqual(["node"]);
    expect(doc.summary.compilesAfterStep2).toBe(0);
  });

  it("step 4: libdemo 2.0 has another hash; diff, table --expect and relink exit 12; nothing is written and the programs still print 1.0.1", () => {
    const b = doc.steps.break;
    expect(b.hash).not.toBe(doc.steps.link.hash);
    expect([b.diffExit, b.tableExpectExit, b.relinkExit]).toEqual([12, 12, 12]);
    expect(b.relinkWrote).toBe(false);
    // relink's 12 is hello's copy of demo_info, which 2.0's larger object would overrun.
    expect(b.relinkRefused).toEqual(["copy-grown demo_info@DEMO_0.9"]);
    expect(b.printed).toEqual({ hello: "1.0.1", banner: "1.0.1" });
    const step4 = doc.commands.filter((c: Command) => c.step === 4);
    expect(step4.filter((c: Command) => c.exitCode === 12).map((c: Command) => c.argv[2])).toEqual(["diff", "table", "relink"]);
  });

  it("step 5: system programs relinked from one glibc build to the other load ld.so and libc from the second", () => {
    const g = doc.steps.glibc;
    expect(g.skipped).toBeUndefined();
    const [a, b] = g.builds;
    expect(b.length).toBeGreaterThan(a.length);
    expect(g.loaded).toContain(`${b}/lib/libc.so.6`);
    expect(g.loaded).toContain(`${b}/lib/${basename(g.interpreter)}`);
    expect(g.loaded.some((l: string) => l.startsWith(`${a}/`))).toBe(false);
    for (const p of g.programs) expect(existsSync(p)).toBe(true);
  });

  it("the summary: files rewritten by relink (steps 2, 3 and 5), bytes and time; the kept directory holds the store", () => {
    expect(doc.summary.rewritten).toMatchObject({ files: 9, relinks: 7 });
    expect(doc.summary.rewritten.bytes).toBeGreaterThan(0);
    expect(doc.summary.rewritten.seconds).toBeGreaterThan(0);
    expect(doc.kept).toBe(true);
    expect(readdirSync(join(dir, "store")).every((n) => /^[0-9a-z]{32}-/.test(n))).toBe(true);
  });

  it("the transcript: each command after `$ `, paths under the demo's directory as $D, the directory removed at the end", async () => {
    const r = await abilink(["demo"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const d = /^# D=(\S+) \(removed at the end/m.exec(r.stdout)?.[1];
    expect(d).toBeDefined();
    expect(existsSync(d!)).toBe(false);
    expect(r.stdout.split("\n").slice(2).join("\n")).not.toContain(d!);
    expect(r.stdout).toMatch(/^\$ gcc .*-o \$D\/store\/[0-9a-z]{32}-hello-1\.0-unlinked\/bin\/hello demo\/hello\.c /m);
    expect(r.stdout).toMatch(/^\$ abilink relink \$D\/store\/\S+ --out \$D\/store\/\S+ --replace \S+=\S+ --json$/m);
    expect(r.stdout).toContain("Hello, world! (libdemo 1.0)\n");
    expect(r.stdout).toContain("Hello, world! (libdemo 1.0.1)\n");
    expect(r.stdout).toMatch(/^\$D\/store\/\S+-hello-1\.0-unlinked\/bin\/hello: error while loading shared libraries: libdemo\.so\.1: ELF load command address\/offset not page-aligned$/m);
    expect(r.stdout).toMatch(/^ABI check refuses \$D\/store\/\S+-hello-1\.0\/bin\/hello:\n  copy-grown demo_info@DEMO_0\.9: the copy holds 20 bytes, \S+ now defines 24 /m);
    expect(r.stdout).toMatch(/^rebuilt: nothing\./m);
  }, 60_000);

  it("without gcc on PATH: one line, exit 1; --keep an existing directory: one line, exit 1", async () => {
    const r = await execa(process.execPath, [bin, "demo"], { reject: false, env: { PATH: "/nonexistent" }, stdin: "ignore" });
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([1, "", "abilink: demo: gcc is not installed: the demo compiles a small library and two programs (Debian: apt-get install gcc)"]);
    const k = await abilink(["demo", "--keep", tmp]);
    expect([k.code, k.stdout, k.stderr]).toEqual([1, "", `abilink: demo: --keep ${tmp}: exists (give a new directory)`]);
  });

  // Step 1's first gcc: gcc's own temporary files (in TMPDIR) go too; step 2: an abilink child running.
  it.each([
    ["SIGTERM", "step 2", 143, "\n== 2."],
    ["SIGHUP", "step 1's gcc", 129, "\n$ gcc "],
    ["SIGINT", "step 2", 130, "\n== 2."],
  ] as const)("%s during %s: exit %i, the directory $D removed (TMPDIR left empty)", async (signal, _when, code, mark) => {
    const tmpdir = join(tmp, `signal-${signal}`);
    mkdirSync(tmpdir);
    const child = execa(process.execPath, [bin, "demo"], { reject: false, env: { TMPDIR: tmpdir }, stdin: "ignore" });
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes(mark)) resolve();
      });
      child.stdout.on("end", () => reject(new Error(`the demo ended before ${JSON.stringify(mark)}: ${out}`)));
    });
    const d = /^# D=(\S+) /m.exec(out)?.[1];
    expect(d?.startsWith(`${tmpdir}/abilink-demo-`)).toBe(true);
    expect(existsSync(d!)).toBe(true);
    child.kill(signal);
    const r = await child;
    expect([r.exitCode, r.signal, r.stderr]).toEqual([code, undefined, ""]);
    expect(existsSync(d!)).toBe(false);
    expect(readdirSync(tmpdir)).toEqual([]);
  }, 60_000);
});

describe("abilink demo's choices, without gcc", () => {
  const committed = { path: "demo/libdemo.abi", text: readFileSync(new URL("../../demo/libdemo.abi", import.meta.url), "utf8") };
  const fresh = (text: string) => ({ path: "/d/work/libdemo-1.0.abi", text });

  it("pickManifest: the committed manifest for this build's target, link hints or not; the build's own for another machine", () => {
    expect(pickManifest(committed, fresh(committed.text))).toEqual({ path: "demo/libdemo.abi", otherTarget: null });
    // Other link hints (another system's libc), the same target: the committed one, the hashes to agree.
    expect(pickManifest(committed, fresh(committed.text.replace("hint-needed libc.so.6\n", "")))).toEqual({ path: "demo/libdemo.abi", otherTarget: null });
    // Committed on x86_64, built on aarch64 (or the other way): the build's manifest, said in one line.
    const aarch64 = committed.text.replace(/^machine x86_64$/m, "machine aarch64");
    expect(aarch64).not.toBe(committed.text);
    for (const [c, f, from, to] of [
      [committed, fresh(aarch64), "x86_64", "aarch64"],
      [{ ...committed, text: aarch64 }, fresh(committed.text), "aarch64", "x86_64"],
    ] as const) {
      expect(pickManifest(c, f)).toEqual({
        path: "/d/work/libdemo-1.0.abi",
        otherTarget: `demo/libdemo.abi is for ${from} (class 64, data little), this build for ${to} (class 64, data little): from here on /d/work/libdemo-1.0.abi, made above from this build, stands in for it`,
      });
    }
  });

  it("firstInterpreter: a script first on the list is passed over for the next dynamically linked program", () => {
    const script = join(tmp, "ls");
    writeFileSync(script, "#!/bin/sh\nexec /bin/ls \"$@\"\n");
    chmodSync(script, 0o755);
    const node = firstInterpreter([process.execPath]);
    expect(node).toMatch(/\/ld-/);
    expect(firstInterpreter([script])).toBeNull();
    expect(firstInterpreter([script, join(tmp, "missing"), process.execPath])).toBe(node);
  });
});
