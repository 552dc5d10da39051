// nix/setup-hook.sh driven by bash through nix/tests/stdenv/setup.sh, a minimal stand-in for
// nixpkgs' stdenv (setup hooks sourced with their offsets, prePhases, the build and install
// phases, fixupOutputHooks per output, postFixupHooks; a buildCommand alone), with and without
// __structuredAttrs, and with and without appendToVar (older stdenvs). A fake store (NIX_STORE) holds a stub made by abilink from
// a compiled libfoo's manifest; the builds link a program, a helper and a plugin against it.
// Ordering: a patchelf --shrink-rpath hook (fixupOutputHooks) and an autoPatchelf-like hook
// sourced after abilink's (postFixupHooks) both run before abilink's check, which sees their
// result. No Nix is needed.
import { execa } from "execa";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { abilink, bin } from "../support/cli.js";
import { withTmpDir } from "../support/tmp.js";
import { hasTool } from "../support/tools.js";

const repo = new URL("../../", import.meta.url).pathname;
const hook = join(repo, "nix/setup-hook.sh");
const stdenvSetup = join(repo, "nix/tests/stdenv/setup.sh");

let tmp = "";
withTmpDir((p) => (tmp = p));
let store = "";
let stub = "";
let stubHash = "";
let pkgs: { abilink: string; shrink: string; autoPatchelf: string } = { abilink: "", shrink: "", autoPatchelf: "" };
let n = 0;

function storePath(name: string): string {
  const p = join(store, `${String(++n).padStart(32, "0")}-${name}`);
  mkdirSync(p, { recursive: true });
  return p;
}

/** A package whose nix-support/setup-hook is FILE (and bin/, if given). */
function hookPackage(name: string, file: string, binaries: Record<string, string> = {}): string {
  const p = storePath(name);
  mkdirSync(join(p, "nix-support"));
  copyFileSync(file, join(p, "nix-support/setup-hook"));
  if (Object.keys(binaries).length > 0) mkdirSync(join(p, "bin"));
  for (const [b, text] of Object.entries(binaries)) {
    writeFileSync(join(p, "bin", b), text);
    chmodSync(join(p, "bin", b), 0o755);
  }
  return p;
}

const hasGcc = hasTool("gcc", "gcc");
const hasPatchelf = hasTool("patchelf", "patchelf");

beforeAll(async () => {
  if (!hasGcc || !hasPatchelf) return;
  store = join(tmp, "store");
  const src = join(tmp, "src");
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, "foo.c"), 'const char *foo_version(void) { return "1.0"; }\n');
  writeFileSync(join(src, "app.c"), '#include <stdio.h>\nconst char *foo_version(void);\nint main(void) { puts(foo_version()); return 0; }\n');
  writeFileSync(join(src, "helper.c"), "int main(void) { return 0; }\n");
  writeFileSync(join(src, "plugin.c"), "const char *foo_version(void);\nconst char *plugin_version(void) { return foo_version(); }\n");
  await execa("gcc", ["-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", join(src, "libfoo.so.1"), join(src, "foo.c")]);
  const manifest = join(src, "libfoo.abi");
  expect((await abilink(["abi", "--stable", join(src, "libfoo.so.1"), "-o", manifest])).code).toBe(0);
  const stubPkg = storePath("libfoo-abi-stub");
  mkdirSync(join(stubPkg, "lib"));
  mkdirSync(join(stubPkg, "nix-support"));
  expect((await abilink(["stub", manifest, "-o", join(stubPkg, "lib/libfoo.so.1")])).code).toBe(0);
  stubHash = (await abilink(["hash", manifest])).stdout.split(" ")[0]!;
  symlinkSync("libfoo.so.1", join(stubPkg, "lib/libfoo.so"));
  writeFileSync(join(stubPkg, "nix-support/abilink-stub"), `libfoo.so.1 ${stubHash}\n`);
  stub = join(stubPkg, "lib");
  pkgs = {
    abilink: hookPackage("abilink", hook, { abilink: `#!/bin/sh\nexec node ${bin} "$@"\n` }),
    shrink: hookPackage("patchelf-hook", join(repo, "nix/tests/hooks/shrink-rpath.sh")),
    autoPatchelf: hookPackage("auto-patchelf-like", join(repo, "nix/tests/hooks/auto-patchelf-like.sh")),
  };
});

type Attrs = Record<string, string | string[] | undefined>;

/** Bash quoting of one word. */
const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Runs one build: the attributes as environment variables (lists joined by spaces), or with
 * __structuredAttrs as .attrs.sh (lists as arrays, outputs as an associative array), then the
 * stand-in stdenv's genericBuild.
 */
async function build(attrs: Attrs, outputs: string[], structured: boolean) {
  const top = join(tmp, `build${++n}`);
  mkdirSync(top);
  const paths = Object.fromEntries(outputs.map((o) => [o, join(store, `${String(++n).padStart(32, "0")}-app${o === "out" ? "" : `-${o}`}`)]));
  const env: Record<string, string> = { PATH: "/usr/bin:/bin", NIX_STORE: store, HOME: "/homeless-shelter" };
  if (structured) {
    const lines = [`declare -A outputs=(${outputs.map((o) => `[${o}]=${q(paths[o]!)}`).join(" ")})`];
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined) continue;
      lines.push(Array.isArray(v) ? `declare -a ${k}=(${v.map(q).join(" ")})` : `declare ${k}=${q(v)}`);
    }
    writeFileSync(join(top, ".attrs.sh"), lines.join("\n") + "\n");
  } else {
    env.outputs = outputs.join(" ");
    for (const o of outputs) env[o] = paths[o]!;
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) env[k] = Array.isArray(v) ? v.join(" ") : v;
  }
  const r = await execa("bash", ["-c", `source ${q(stdenvSetup)}; genericBuild`], { cwd: top, env, extendEnv: false, reject: false, stdin: "ignore", all: true });
  return { code: r.exitCode, log: r.all ?? "", paths };
}

const runpath = async (file: string) => (await execa("patchelf", ["--print-rpath", file])).stdout;

/** The build of the tests: app (needs libfoo, RUNPATH stub and an unused directory), helper (needs nothing, RUNPATH stub), plugin (needs libfoo, no RUNPATH). */
function appBuild() {
  const flags = "-Wl,--enable-new-dtags";
  const s = join(tmp, "src");
  return [
    `mkdir -p "$out/bin" "$plugins/lib"`,
    `gcc ${flags} -o "$out/bin/app" ${s}/app.c -L${stub} -lfoo -Wl,-rpath,${stub} -Wl,-rpath,${tmp}/unused`,
    `gcc -Wl,--enable-new-dtags -o "$out/bin/helper" ${s}/helper.c -Wl,-rpath,${stub}`,
    `gcc -shared -fPIC -o "$plugins/lib/plugin.so" ${s}/plugin.c -L${stub} -lfoo`,
  ].join("\n");
}

/** Says in the log whether the stdenv has appendToVar (the hook falls back on its own without). */
const reportAppendToVar = `if declare -F appendToVar >/dev/null; then echo "stdenv: appendToVar defined"; else echo "stdenv: no appendToVar"; fi`;

const variants = [false, true].flatMap((structured) => [true, false].map((appendToVar) => ({ structured, appendToVar })));

describe.skipIf(!hasGcc || !hasPatchelf).each(variants)("nix/setup-hook.sh (__structuredAttrs: $structured, appendToVar: $appendToVar)", ({ structured, appendToVar }) => {
  /** The attributes of the tests' build: abilink, the --shrink-rpath and autoPatchelf-like hooks, appBuild() as buildPhase. */
  const base = (): Attrs => ({
    nativeBuildInputs: [pkgs.abilink, pkgs.shrink, pkgs.autoPatchelf],
    autoPatchelfLibDirs: stub,
    buildPhase: `${reportAppendToVar}\n${appBuild()}`,
    fakeStdenvNoAppendToVar: appendToVar ? undefined : "1",
  });

  it("runs last in fixup: after --shrink-rpath and an autoPatchelf-like hook sourced after it; records the stub and its ABI hash per output", async () => {
    const r = await build(base(), ["out", "plugins"], structured);
    expect(r.code, r.log).toBe(0);
    const log = r.log.split("\n");
    expect(log).toContain(appendToVar ? "stdenv: appendToVar defined" : "stdenv: no appendToVar");
    const at = (re: RegExp) => log.findIndex((l) => re.test(l));
    expect(log.filter((l) => l.startsWith("abilink: registered"))).toHaveLength(1);
    expect(at(/^running abilinkHookRegistration$/)).toBeLessThan(at(/^running buildPhase$/));
    expect(at(/^shrink-rpath: .*\/bin\/helper$/)).toBeGreaterThan(at(/^running fixupPhase$/));
    expect(at(/^auto-patchelf-like: .*plugin\.so: RUNPATH \+= /)).toBeGreaterThan(at(/^shrink-rpath: .*plugin\.so$/));
    expect(at(/^abilink: out: /)).toBeGreaterThan(at(/^auto-patchelf-like: /));
    // --shrink-rpath dropped the stub from helper, which does not need it; the unused directory went too
    expect(await runpath(join(r.paths.out!, "bin/helper"))).toBe("");
    expect(await runpath(join(r.paths.out!, "bin/app"))).toBe(stub);
    // the plugin's RUNPATH came from the autoPatchelf-like hook, and abilink saw it
    expect(await runpath(join(r.paths.plugins!, "lib/plugin.so"))).toBe(stub);
    const record = `${stub}/libfoo.so.1 ${stubHash}\n`;
    expect(readFileSync(join(r.paths.out!, "nix-support/abilink-stubs"), "utf8")).toBe(record);
    expect(readFileSync(join(r.paths.plugins!, "nix-support/abilink-stubs"), "utf8")).toBe(record);
    expect(stubHash).toMatch(/^abi2-[0-9a-z]{32}$/);
    expect(log).toContain(`abilink: ${r.paths.out}/bin/app: libfoo.so.1 from stub ${stub}/libfoo.so.1 (${stubHash})`);
    expect(log).toContain("abilink: out: 2 ELF files, 1 linked against stubs; recorded in " + `${r.paths.out}/nix-support/abilink-stubs:`);
    expect(log).toContain("abilink: plugins: 1 ELF files, 1 linked against stubs; recorded in " + `${r.paths.plugins}/nix-support/abilink-stubs:`);
  });

  it("an output with no stub reference gets no record", async () => {
    const r = await build({ ...base(), buildPhase: `mkdir -p "$out/bin"; gcc -o "$out/bin/helper" ${tmp}/src/helper.c` }, ["out"], structured);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toContain("abilink: out: 1 ELF files, none linked against stubs");
    expect(existsSync(join(r.paths.out!, "nix-support/abilink-stubs"))).toBe(false);
  });

  it("a stub left in the RUNPATH of a file that does not need it fails the build (dontPatchELF: no --shrink-rpath)", async () => {
    const r = await build({ ...base(), dontPatchELF: "1" }, ["out", "plugins"], structured);
    expect(r.code).toBe(1);
    expect(r.log).toContain("abilink: stubs may be referenced only through RUNPATH entries of files that need them:");
    expect(r.log).toContain(`abilink:   ${r.paths.out}/bin/helper: RUNPATH entry ${stub} is a stub directory, but the file NEEDs no library in it`);
    expect(r.log).not.toContain("bin/app: RUNPATH entry");
  });

  it("dontAbilink: nothing checked, nothing recorded, said in the log", async () => {
    const r = await build({ ...base(), dontPatchELF: "1", dontAbilink: "1" }, ["out", "plugins"], structured);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toContain("abilink: dontAbilink is set: stub references neither checked nor recorded");
    expect(existsSync(join(r.paths.out!, "nix-support/abilink-stubs"))).toBe(false);
  });

  it("abilinkIgnore: files matching the globs are left out (a base name; a whole path with **)", async () => {
    const r = await build({ ...base(), dontPatchELF: "1", abilinkIgnore: ["helper", "**/*-plugins/lib/*.so"] }, ["out", "plugins"], structured);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toContain("abilink: out: 1 ELF files, 1 linked against stubs");
    expect(r.log).toContain("abilink: plugins: 0 ELF files, none linked against stubs");
  });

  it("abilinkFlags go to abilink scan", async () => {
    const r = await build({ ...base(), dontPatchELF: "1", abilinkFlags: ["--jobs", "1", "--exclude", "helper"] }, ["out", "plugins"], structured);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toContain("abilink: out: 1 ELF files, 1 linked against stubs");
  });

  it("an absolute NEEDED path to a stub, written by a postFixup hook sourced after abilink's, fails the build", async () => {
    const r = await build({ ...base(), autoPatchelfLikeAbsolute: "1" }, ["out", "plugins"], structured);
    expect(r.code).toBe(1);
    expect(r.log).toContain(`abilink:   ${r.paths.plugins}/lib/plugin.so: NEEDED ${stub}/libfoo.so.1 is an absolute path to a stub (only RUNPATH may lead to stubs)`);
  });

  it("a stub in DT_RPATH (not RUNPATH) fails the build", async () => {
    // without dontPatchELF, --shrink-rpath would have rewritten DT_RPATH as DT_RUNPATH
    const buildPhase = `mkdir -p "$out/bin"; gcc -Wl,--disable-new-dtags -o "$out/bin/app" ${tmp}/src/app.c -L${stub} -lfoo -Wl,-rpath,${stub}`;
    const r = await build({ ...base(), dontPatchELF: "1", buildPhase }, ["out", "plugins"], structured);
    expect(r.code, r.log).toBe(1);
    expect(r.log).toContain(`abilink:   ${r.paths.out}/bin/app: DT_RPATH entry ${stub} is a stub directory`);
  });

  it("a malformed ELF file in an output (truncated): a warning names it, it is left out, the build carries on", async () => {
    const buildPhase = `${appBuild()}\nmkdir -p "$out/share/testdata"; head -c 100 /bin/ls > "$out/share/testdata/truncated.elf"`;
    const r = await build({ ...base(), buildPhase }, ["out", "plugins"], structured);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toMatch(new RegExp(`^abilink: warning: ${r.paths.out}/share/testdata/truncated\\.elf: .+ \\(left out: not checked for stub references\\)$`, "m"));
    expect(r.log).toContain("abilink: out: 2 ELF files, 1 linked against stubs");
    expect(readFileSync(join(r.paths.out!, "nix-support/abilink-stubs"), "utf8")).toBe(`${stub}/libfoo.so.1 ${stubHash}\n`);
  });

  it("strictDeps: from buildInputs (hostOffset 0) the hook does nothing, said in the log; from nativeBuildInputs it acts", async () => {
    const b = base();
    const others = (b.nativeBuildInputs as string[]).filter((p) => p !== pkgs.abilink);
    const r = await build({ ...b, strictDeps: "1", dontPatchELF: "1", buildInputs: [] }, ["out", "plugins"], structured);
    expect(r.code).toBe(1); // from nativeBuildInputs: the helper's stub RUNPATH refused
    const inBuildInputs = await build({ ...b, strictDeps: "1", dontPatchELF: "1", nativeBuildInputs: others, buildInputs: [pkgs.abilink] }, ["out", "plugins"], structured);
    expect(inBuildInputs.code, inBuildInputs.log).toBe(0);
    expect(inBuildInputs.log).toContain("abilink: setup hook not used: sourced with hostOffset 0 (targetOffset 1); with strictDeps it acts from nativeBuildInputs only");
    expect(inBuildInputs.log).not.toContain("abilink: registered");
    expect(existsSync(join(inBuildInputs.paths.out!, "nix-support/abilink-stubs"))).toBe(false);
    // without strictDeps nixpkgs does not keep them apart (buildInputs' programs are on PATH), nor does the hook
    const nonStrict = await build({ ...b, dontPatchELF: "1", nativeBuildInputs: others, buildInputs: [pkgs.abilink] }, ["out", "plugins"], structured);
    expect(nonStrict.code).toBe(1);
    expect(nonStrict.log).toContain("abilink: registered abilinkFixupHook");
  });

  it("sourced twice (two inputs carry it): registered once", async () => {
    const b = base();
    const r = await build({ ...b, nativeBuildInputs: [pkgs.abilink, ...(b.nativeBuildInputs as string[])] }, ["out", "plugins"], structured);
    expect(r.code, r.log).toBe(0);
    expect(r.log.split("\n").filter((l) => l.startsWith("abilink: registered"))).toHaveLength(1);
    expect(r.log.split("\n").filter((l) => l.startsWith("abilink: out: "))).toHaveLength(1);
  });
});

describe.skipIf(!hasGcc || !hasPatchelf).each([false, true])("nix/tests/stdenv/setup.sh (__structuredAttrs: %s)", (structured) => {
  it("a buildCommand runs alone, as in nixpkgs' genericBuild: no prePhases, no build or install phase, no fixup (the hook neither registered nor run)", async () => {
    const attrs: Attrs = {
      nativeBuildInputs: [pkgs.abilink, pkgs.shrink, pkgs.autoPatchelf],
      autoPatchelfLibDirs: stub,
      buildCommand: `echo "buildCommand ran"\n${appBuild()}`,
      buildPhase: "echo buildPhase ran",
    };
    const r = await build(attrs, ["out", "plugins"], structured);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toContain("buildCommand ran");
    expect(r.log).not.toContain("buildPhase ran");
    expect(r.log).not.toMatch(/^running (abilinkHookRegistration|buildPhase|fixupPhase)$/m);
    expect(r.log).not.toMatch(/^(shrink-rpath|auto-patchelf-like|abilink): /m);
    expect(existsSync(join(r.paths.out!, "nix-support/abilink-stubs"))).toBe(false);
  });
});
