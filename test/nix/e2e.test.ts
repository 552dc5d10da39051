// nix/lib.nix with a real Nix (Debian's nix-bin): nix/tests/e2e.nix runs nix/lib.nix's functions through a minimal stdenv made from
// builtins.derivation and the host toolchain (no nixpkgs offline):
//   1. libfoo 1.0, its committed manifest, the stub, app-unlinked (built with phases, abilink's
//      hook in its fixup) linked against it, a table, relinkPackage: the app runs and prints
//      libfoo 1.0; meta and passthru kept;
//   2. libfoo 1.0.1 (a fix, same ABI): the stub and app-unlinked keep their store paths,
//      `nix-build --dry-run` lists exactly libfoo, the table and the relink step; prints 1.0.1;
//   3. libfoo 2.0 (an ABI break): abiCheck fails with the report, the table with expect refuses;
//   4. relinkClosure: suite -> tool -> libbar, all on libfoo 1.0, moved onto
//      libfoo-1.0.1-security-fix: runs, each path relinked by its own derivation, and no
//      reference to 1.0 is left;
//   5. relinkClosure of a wrapper script naming libfoo 1.0 (a reference relink cannot move to
//      the longer name): its derivation fails, the log names the wrapper;
//   6. relinkPackage refuses a package without the hook's record;
//   7. and one whose output still refers to the stub after relinking.
// The builds run as root in the default store with the sandbox off (the host's gcc, node and
// this checkout are absolute paths outside the store). Every run salts its derivations, so it
// builds all it needs, and deletes the store paths of its salted derivations, and their build
// logs, when it ends.
import { execa } from "execa";
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTmpDir } from "../support/tmp.js";
import { hasTool } from "../support/tools.js";

const repo = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const expr = join(repo, "nix/tests/e2e.nix");
const NIX_CONFIG = "sandbox = false\nbuild-users-group =\nsubstituters =\n";
const env = { NIX_CONFIG };

function isRoot(): boolean {
  if (process.getuid?.() === 0) return true;
  console.warn("skipping the Nix end-to-end tests: they build in the default store (/nix/store) without a sandbox, which needs root (CI runs as root)");
  return false;
}

const hasNix = hasTool("nix-build", "nix-bin");

let tmp = "";
withTmpDir((p) => (tmp = p));
const salt = `${process.pid}-${Date.now()}`;
let storeBefore = new Set<string>();

const args = (version: string) => ["--argstr", "repo", repo, "--argstr", "node", process.execPath, "--argstr", "salt", salt, "--argstr", "version", version];

async function nixBuild(attr: string, version: string, extra: string[] = []) {
  const link = join(tmp, `result-${attr}-${version}`);
  const r = await execa("nix-build", [expr, ...args(version), "-A", attr, "-o", link, ...extra], { env, reject: false, all: true, stdin: "ignore" });
  return { code: r.exitCode, log: r.all ?? "", out: existsSync(link) ? realpathSync(link) : "" };
}

async function drvPath(attr: string, version: string): Promise<string> {
  return (await execa("nix-instantiate", [expr, ...args(version), "-A", attr], { env })).stdout.trim();
}

async function outPath(attr: string, version: string): Promise<string> {
  return (await execa("nix-store", ["-q", "--outputs", await drvPath(attr, version)], { env })).stdout.trim();
}

const references = async (p: string) => (await execa("nix-store", ["-q", "--references", p], { env })).stdout.split("\n").filter(Boolean);
const closure = async (p: string) => (await execa("nix-store", ["-q", "--requisites", p], { env })).stdout.split("\n").filter(Boolean);

const evalAttr = async (attr: string, version: string) =>
  JSON.parse((await execa("nix-instantiate", ["--eval", "--strict", "--json", expr, ...args(version), "-A", attr], { env })).stdout) as unknown;
const query = async (what: string[], p: string) => (await execa("nix-store", ["-q", ...what, p], { env })).stdout.trim();

describe.skipIf(!hasNix || !isRoot())("nix/lib.nix end to end with a real Nix (nix/tests/e2e.nix)", () => {
  beforeAll(() => {
    storeBefore = new Set(existsSync("/nix/store") ? readdirSync("/nix/store") : []);
  });
  afterAll(async () => {
    // the result links are GC roots: drop them, then delete what this run's salted derivations
    // made (the derivations and their outputs: not another run's or process's paths), and their logs
    for (const f of existsSync(tmp) ? readdirSync(tmp) : []) if (f.startsWith("result-")) rmSync(join(tmp, f), { force: true });
    const mark = `"abilinkTestSalt","${salt}"`;
    const drvs = readdirSync("/nix/store")
      .filter((p) => !storeBefore.has(p) && p.endsWith(".drv"))
      .map((p) => `/nix/store/${p}`)
      .filter((p) => readFileSync(p, "latin1").includes(mark));
    if (drvs.length === 0) return;
    const allOutputs = (await execa("nix-store", ["-q", "--outputs", ...drvs], { env })).stdout.split("\n").filter(Boolean);
    const outputs = allOutputs.filter((p) => existsSync(p));
    const del = await execa("nix-store", ["--delete", ...outputs, ...drvs], { env, reject: false, all: true });
    for (const d of drvs) rmSync(join("/nix/var/log/nix/drvs", basename(d).slice(0, 2), `${basename(d).slice(2)}.bz2`), { force: true });
    for (const p of allOutputs) rmSync(`${p}.lock`, { force: true }); // left by the builds that were meant to fail
    if (del.exitCode !== 0) throw new Error(`nix-store --delete of this run's ${outputs.length + drvs.length} paths failed (exit ${del.exitCode}):\n${del.all}`);
    const left = [...outputs, ...drvs].filter((p) => existsSync(p));
    if (left.length > 0) throw new Error(`nix-store --delete left this run's paths in the store:\n${left.join("\n")}`);
  });

  it("1: libfoo 1.0 -> manifest -> stub -> app-unlinked -> table -> relinkPackage: the app runs (1.0); it refers to the table, not to the stub", { timeout: 300_000 }, async () => {
    const r = await nixBuild("app", "1.0");
    expect(r.code, r.log).toBe(0);
    expect((await execa(join(r.out, "bin/app"))).stdout).toBe("libfoo 1.0 42");
    const table = await outPath("table", "1.0");
    const stub = await outPath("stub", "1.0");
    const unlinked = await outPath("appUnlinked", "1.0");
    expect(await references(r.out)).toEqual([table]);
    expect(readFileSync(join(unlinked, "nix-support/abilink-stubs"), "utf8")).toMatch(new RegExp(`^${stub}/lib/libfoo\\.so\\.1 abi2-[0-9a-z]{32}\\n$`));
    expect(await references(unlinked)).toEqual([stub]);
    expect(r.log).toContain(`relinkPackage: out: libfoo.so.1`);
    expect(r.log).toMatch(/^libfoo 1\.0 42$/m); // relinkPackage's checkPhase ran the app
    // app-unlinked was built with phases, as a nixpkgs package is: the hook ran in its fixup
    const unlinkedLog = (await execa("nix-store", ["--read-log", await drvPath("appUnlinked", "1.0")], { env })).stdout;
    expect(unlinkedLog).toMatch(/^running fixupPhase$[\s\S]*abilink: .*\/bin\/app: libfoo\.so\.1 from stub /m);
    expect(unlinkedLog).not.toContain("running buildCommand");
    // what nixpkgs' lib.getExe and others read: drv's meta and passthru
    expect(await evalAttr("app.meta.mainProgram", "1.0")).toBe("app");
    expect(await evalAttr("app.passthru.abilinkTest", "1.0")).toBe("kept");
    expect(await evalAttr("app.abilinkTest", "1.0")).toBe("kept");
  });

  it("2: libfoo 1.0.1 (same ABI): stub and app-unlinked keep their paths; nix-build --dry-run lists exactly libfoo, the table and the relink step; the app prints 1.0.1", { timeout: 300_000 }, async () => {
    // what a 1.0 user already has (test 1 built it too, if it ran: then this builds nothing)
    const before = await nixBuild("appUnlinked", "1.0");
    expect(before.code, before.log).toBe(0);
    expect(await outPath("stub", "1.0.1")).toBe(await outPath("stub", "1.0"));
    expect(await outPath("appUnlinked", "1.0.1")).toBe(await outPath("appUnlinked", "1.0"));
    expect(await outPath("libfoo", "1.0.1")).not.toBe(await outPath("libfoo", "1.0"));
    const dry = await execa("nix-build", [expr, ...args("1.0.1"), "-A", "app", "--dry-run"], { env, all: true });
    const lines = (dry.all ?? "").split("\n");
    const at = lines.findIndex((l) => /^these \d+ derivations will be built:$/.test(l));
    expect(at, dry.all).toBeGreaterThanOrEqual(0);
    const toBuild = lines.slice(at + 1).filter((l) => l.startsWith("  /nix/store/")).map((l) => l.trim());
    expect(toBuild.sort()).toEqual([await drvPath("libfoo", "1.0.1"), await drvPath("table", "1.0.1"), await drvPath("app", "1.0.1")].sort());
    const r = await nixBuild("app", "1.0.1");
    expect(r.code, r.log).toBe(0);
    expect((await execa(join(r.out, "bin/app"))).stdout).toBe("libfoo 1.0.1 42");
    expect(r.log).not.toMatch(/building '[^']*app-0\.1\.drv'[\s\S]*building '[^']*app-0\.1\.drv'/); // app-0.1 built once: the relink step
    const check = await nixBuild("check", "1.0.1");
    expect(check.code, check.log).toBe(0);
    expect(check.log).toMatch(/abiCheck: .*libfoo-1\.0\.1\/lib\/libfoo\.so\.1 provides .*libfoo\.abi \(equal\)/);
  });

  it("3: libfoo 2.0 (an ABI break): abiCheck fails with abilink diff's report; the table with expect refuses", { timeout: 300_000 }, async () => {
    const check = await nixBuild("check", "2.0");
    expect(check.code).not.toBe(0);
    expect(check.log).toMatch(/^ {2}INCOMPATIBLE {2}symbol-removed {11}foo_add@@FOO_1\.0$/m);
    expect(check.log).toMatch(/abiCheck: .*libfoo-2\.0\/lib\/libfoo\.so\.1 no longer provides .*libfoo\.abi: incompatible changes above/);
    const table = await nixBuild("tableExpect", "2.0");
    expect(table.code).not.toBe(0);
    expect(table.log).toMatch(/foo_add@@FOO_1\.0/);
    expect(table.log).toContain("table refused: nothing written");
    expect(table.log).toMatch(/libfoo-table-expect\.drv' failed with exit code 12/);
  });

  it("4: relinkClosure: a closure of three store paths on libfoo 1.0 moves onto libfoo-1.0.1-security-fix; it runs and refers to 1.0 nowhere", { timeout: 300_000 }, async () => {
    const old = await outPath("libfoo10", "1.0");
    const fix = await outPath("libfooFix", "1.0");
    const r = await nixBuild("suiteRelinked", "1.0");
    expect(r.code, r.log).toBe(0);
    const out = r.out;
    const original = await outPath("suite", "1.0");
    expect(await closure(original)).toContain(old);
    expect(out).not.toBe(original);
    expect(out.slice(44)).toBe(original.slice(44)); // the name is kept
    expect((await execa(join(out, "bin/app"))).stdout).toBe("libfoo 1.0.1 42");
    expect((await execa(join(out, "bin/tool"))).stdout).toBe("tool: libfoo 1.0.1 3");
    const toolLink = readlinkSync(join(out, "bin/tool"));
    const paths = await closure(out);
    expect(paths.map((p) => p.slice(44)).sort()).toEqual(["libbar-1.0", "libfoo-1.0.1-security-fix", "suite-1.0", "tool-1.0"]);
    expect(paths).toContain(fix);
    expect(paths).toContain(toolLink.replace(/\/bin\/tool$/, "")); // the link follows the relinked tool
    expect(paths).not.toContain(old);
    for (const p of paths) expect(await references(p)).not.toContain(old);
    // one derivation per affected path: libbar, tool and suite each made by a relink derivation
    // whose src is the original path
    for (const attr of ["libbar", "tool", "suite"]) {
      const orig = await outPath(attr, "1.0");
      const relinked = paths.find((p) => p.slice(44) === orig.slice(44))!;
      expect(relinked).not.toBe(orig);
      const deriver = await query(["--deriver"], relinked);
      expect(deriver).not.toBe(await drvPath(attr, "1.0"));
      expect(await query(["--binding", "src"], deriver)).toBe(orig);
    }
    const hashPart = old.slice("/nix/store/".length, "/nix/store/".length + 32);
    const grep = await execa("grep", ["-r", "-l", "-a", hashPart, ...paths], { reject: false });
    expect([grep.exitCode, grep.stdout]).toEqual([1, ""]);
  });

  it("5: relinkClosure of a wrapper script naming libfoo 1.0's lib/ (a reference relink cannot move to the longer name): --strict fails its derivation, the log names the wrapper", { timeout: 300_000 }, async () => {
    const old = await outPath("libfoo10", "1.0");
    const r = await nixBuild("wrapperRelinked", "1.0");
    expect(r.code, r.log).not.toBe(0);
    const wrapper = await outPath("wrapper", "1.0");
    expect(readFileSync(join(wrapper, "bin/w"), "utf8")).toContain(`LD_LIBRARY_PATH=${old}/lib exec `);
    expect(r.log).toContain(`remaining reference: ${wrapper}/bin/w at 26: ${old}`);
    expect(r.log).toContain("refused by --strict, nothing written");
    expect(r.log).toContain(`relinkClosure: abilink relink ${wrapper} failed (exit 1, its report above)`);
    expect(r.log).toMatch(/builder for '[^']*-wrapper-1\.0\.drv' failed with exit code 1/);
  });

  it("6: relinkPackage refuses a package the hook recorded nothing for (dontAbilink), saying why", { timeout: 300_000 }, async () => {
    const noRecord = await nixBuild("appNoRecord", "1.0");
    expect(noRecord.code, noRecord.log).not.toBe(0);
    expect(noRecord.log).toContain("relinkPackage: no output of app-0.1 has nix-support/abilink-stubs, the record abilink's setup hook writes in the fixup phase:");
  });

  it("7: relinkPackage refuses outputs that still refer to a stub after relinking (a text file in a second output naming it), naming the file", { timeout: 300_000 }, async () => {
    const left = await nixBuild("appStubLeft", "1.0");
    expect(left.code, left.log).not.toBe(0);
    const stub = await outPath("stub", "1.0");
    expect(left.log).toContain("relinkPackage: the relinked outputs still refer to stubs:");
    expect(left.log).toMatch(new RegExp(`^relinkPackage: {3}/nix/store/[0-9a-z]{32}-app-0\\.1-doc/share/doc/app/build-info refers to the stub ${stub}$`, "m"));
    expect(left.log).not.toMatch(/^relinkPackage: {3}.*-app-0\.1\/bin\/app /m); // the program itself was relinked
  });
});
