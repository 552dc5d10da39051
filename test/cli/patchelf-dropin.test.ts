// abilink as a drop-in for patchelf: bin/abilink run through a link named `patchelf` is
// `abilink patchelf`, so that scripts and Nix hooks that call `patchelf` use it unchanged;
// PATCHELF_DEBUG turns on the debug output as patchelf's does. A call that only prints loads
// neither native addon (start-up time: bench/README.md).
import { execa } from "execa";
import { copyFileSync, existsSync, mkdirSync, realpathSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bin } from "../support/cli.js";
import { hasTool } from "../support/tools.js";
import { withTmpDir } from "../support/tmp.js";

const ls = "/usr/bin/ls";
let tmp = "";
withTmpDir((path) => (tmp = path));

/** A directory holding a link named patchelf to this checkout's bin/abilink, made once. */
function linkDir(): string {
  const dir = join(tmp, "bin");
  if (!existsSync(join(dir, "patchelf"))) {
    mkdirSync(dir, { recursive: true });
    symlinkSync(realpathSync(bin), join(dir, "patchelf"));
  }
  return dir;
}

/** This process's environment without PATCHELF_DEBUG, plus `extra`. */
function envWith(extra: Record<string, string>): Record<string, string | undefined> {
  const { PATCHELF_DEBUG: _, ...rest } = process.env;
  return { ...rest, ...extra };
}

/** Runs the link as a program (its #! line), found through PATH. */
async function viaLink(args: string[], extra: Record<string, string> = {}) {
  const r = await execa("patchelf", args, {
    reject: false,
    stdin: "ignore",
    extendEnv: false,
    env: envWith({ ...extra, PATH: `${linkDir()}:${process.env.PATH}` }),
  });
  expect(r.stderr).not.toMatch(/internal error|unknown option|    at /);
  return r;
}

async function abilinkPatchelf(args: string[], extra: Record<string, string> = {}) {
  const r = await execa("node", [bin, "patchelf", ...args], { reject: false, stdin: "ignore", extendEnv: false, env: envWith(extra) });
  expect(r.stderr).not.toMatch(/internal error|    at /);
  return r;
}

const copy = (name: string) => {
  const f = join(tmp, name);
  copyFileSync(ls, f);
  return f;
};

describe.skipIf(!hasTool("patchelf", "patchelf"))("a link named patchelf", () => {
  it("prints what patchelf prints: --print-needed, --print-interpreter, --print-rpath", async () => {
    for (const args of [["--print-needed"], ["--print-interpreter"], ["--print-interpreter", "--print-rpath", "--print-needed"]]) {
      const r = await viaLink([...args, ls]);
      const p = await execa("/usr/bin/patchelf", [...args, ls], { reject: false });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe(p.stdout);
      expect(r.stderr).toBe("");
    }
    // The link itself, called by its path, not through PATH.
    const direct = await execa(join(linkDir(), "patchelf"), ["--print-needed", ls]);
    expect(direct.stdout).toBe((await execa("/usr/bin/patchelf", ["--print-needed", ls])).stdout);
  });

  it("edits as patchelf does, in the file's own inode, and answers --version as abilink patchelf", async () => {
    const a = copy("ls-a");
    const p = copy("ls-p");
    const ino = statSync(a).ino;
    // One edit a call: patchelf 0.14 garbles the runpath when --set-rpath and --add-needed come together.
    for (const edit of [["--set-rpath", "/opt/dropin/lib:$ORIGIN"], ["--add-needed", "libm.so.6"]]) {
      expect((await viaLink([...edit, a])).exitCode).toBe(0);
      await execa("/usr/bin/patchelf", [...edit, p]);
    }
    expect(statSync(a).ino).toBe(ino);
    for (const opt of ["--print-rpath", "--print-needed"]) {
      expect((await viaLink([opt, a])).stdout).toBe((await execa("/usr/bin/patchelf", [opt, p])).stdout);
    }
    expect((await viaLink(["--version"])).stdout).toBe((await abilinkPatchelf(["--version"])).stdout);
  });

  it("errors say patchelf:, exit 1, one line", async () => {
    const missing = join(tmp, "missing");
    for (const run of [viaLink, abilinkPatchelf]) {
      const r = await run(["--print-needed", missing]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toBe(`patchelf: getting info about '${missing}': No such file or directory`);
      const none = await run(["--print-needed"]);
      expect(none.exitCode).toBe(1);
      expect(none.stderr).toBe("patchelf: missing filename");
    }
  });

  it("a link by another name is the full CLI", async () => {
    const other = join(tmp, "abilink-other");
    symlinkSync(realpathSync(bin), other);
    const r = await execa(other, ["--version"], { reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("PATCHELF_DEBUG", () => {
  it("gives the output of --debug, to any value, through the link and abilink patchelf", async () => {
    const edit = ["--set-rpath", "/opt/debug/lib"];
    const withFlag = await abilinkPatchelf(["--debug", ...edit, copy("ls-d0")]);
    expect(withFlag.exitCode).toBe(0);
    expect(withFlag.stderr).toContain("runpath: (none) -> /opt/debug/lib");
    const expected = (f: string) => withFlag.stderr.replaceAll(join(tmp, "ls-d0"), f);
    for (const value of ["1", "", "0"]) {
      const f1 = copy("ls-d1");
      const r1 = await abilinkPatchelf([...edit, f1], { PATCHELF_DEBUG: value });
      expect(r1.stderr).toBe(expected(f1));
      const f2 = copy("ls-d2");
      const r2 = await viaLink([...edit, f2], { PATCHELF_DEBUG: value });
      expect(r2.stderr).toBe(expected(f2));
    }
    // Unset: nothing on stderr.
    const quiet = await abilinkPatchelf([...edit, copy("ls-d3")]);
    expect(quiet.exitCode).toBe(0);
    expect(quiet.stderr).toBe("");
  });
});

describe("start-up: load only what the call needs", () => {
  it("a call that only prints loads no native addon; an edit loads the write path", async () => {
    const print = await execa("node", [bin, "patchelf", "--print-needed", ls], { env: { NODE_DEBUG: "module" } });
    expect(print.stdout.split("\n")).toContain("libc.so.6");
    expect(print.stderr).not.toMatch(/\.node"/);
    const f = copy("ls-lazy");
    const edit = await execa("node", [bin, "patchelf", "--set-rpath", "/opt/lazy", f], { env: { NODE_DEBUG: "module" } });
    expect(edit.stderr).toMatch(/abilink_io\.node"/);
    expect((await abilinkPatchelf(["--print-rpath", f])).stdout).toBe("/opt/lazy");
  });
});
