import { chmodSync, copyFileSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { dir } from "tmp-promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abilink, bin } from "../support/cli.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;

let tmp: string;
let root: string;
let outside: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const d = await dir({ unsafeCleanup: true });
  cleanup = d.cleanup;
  tmp = d.path;
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

  it("text output: one line per ELF file, with its size in bytes", async () => {
    const r = await abilink(["scan", join(root, "lib")]);
    expect(r.code).toBe(0);
    const size = async (p: string) => (await execa("stat", ["-c", "%s", p])).stdout;
    expect(r.stdout.trim().split("\n")).toEqual([
      `${root}/lib/libvers.so.1 ELF64 LE x86_64 DYN size=${await size(`${root}/lib/libvers.so.1`)} soname=libvers.so.1 needed=libc.so.6,ld-linux-x86-64.so.2`,
      `${root}/lib/deep/er/ppc.so ELF64 BE ppc64 DYN size=${await size(`${root}/lib/deep/er/ppc.so`)} soname=libvers.so.1 needed=libc.so.6,ld64.so.1`,
    ]);
  });

  it("reports a missing root on stderr and exits 1", async () => {
    const r = await abilink(["scan", join(root, "nope"), join(root, "lib")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nope: no such file or directory$/m);
    expect(r.stdout.trim().split("\n")).toHaveLength(2);
  });
});

/**
 * What a terminal shows for `raw`: `\r` returns to the start of the line, `ESC [2K` erases
 * the line, `\n` starts the next one, and other characters overwrite what is under the cursor.
 */
function screenLines(raw: string): string[] {
  const lines: string[] = [];
  let line: string[] = [];
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === "\r") col = 0;
    else if (c === "\n") {
      lines.push(line.join(""));
      line = [];
      col = 0;
    } else if (raw.startsWith("\x1b[2K", i)) {
      line = [];
      i += 3;
    } else {
      while (line.length < col) line.push(" ");
      line[col++] = c;
    }
  }
  lines.push(line.join(""));
  return lines;
}

describe("abilink scan on a terminal", () => {
  it("erases the progress line before each record and error, so that none starts after it", async () => {
    const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
    const args = ["scan", "/usr/bin", join(root, "bin")];
    // script(1) (util-linux, Essential on Debian) gives the run a pseudo-terminal for stdout and stderr.
    const tty = await execa("script", ["-qfec", ["node", bin, ...args].map(quote).join(" "), "/dev/null"], { stdin: "ignore", reject: false });
    expect(tty.exitCode).toBe(1);
    expect(tty.stdout).toContain("scanned ");
    const screen = screenLines(tty.stdout.replaceAll("\r\n", "\n"));
    expect(screen.filter((l) => l.includes("scanned "))).toEqual([]);
    // What is left on the screen is the records and the error (bin/broken), as without a terminal.
    const plain = await abilink(args);
    expect(plain.stderr).toMatch(/broken/);
    expect(screen).toContain(plain.stderr);
    expect(screen.filter((l) => l !== "" && l !== plain.stderr)).toEqual(plain.stdout.trim().split("\n"));
  });
});

/** `scan --json ARGS`, with the paths of the records relative to `base`. */
async function scanPaths(base: string, ...args: string[]) {
  const r = await abilink(["scan", "--json", ...args]);
  return { ...r, paths: r.stdout === "" ? [] : r.stdout.trim().split("\n").map((l) => JSON.parse(l).path.slice(base.length)) };
}

describe("abilink scan --exclude", () => {
  let tree: string;
  beforeAll(() => {
    tree = join(tmp, "tree");
    mkdirSync(join(tree, "lib", "debug", "usr"), { recursive: true });
    mkdirSync(join(tree, "bin"));
    copyFileSync(fx("x86_64/libvers.so.1"), join(tree, "lib", "libvers.so.1"));
    copyFileSync(fx("x86_64/libvers.so.1"), join(tree, "lib", ".hidden.so"));
    copyFileSync(fx("x86_64/libvers.so.1"), join(tree, "lib", "debug", "usr", "libvers.so.1.debug"));
    copyFileSync(fx("x86_64/prog"), join(tree, "bin", "prog"));
    writeFileSync(join(tree, "bin", "broken"), readFileSync(fx("x86_64/prog")).subarray(0, 70));
  });
  const paths = (...args: string[]) => scanPaths(tree, ...args);

  it("without a slash, a glob matches base names, dot files too; an excluded directory is not entered", async () => {
    expect((await paths(tree)).paths).toEqual(["/bin/prog", "/lib/.hidden.so", "/lib/libvers.so.1", "/lib/debug/usr/libvers.so.1.debug"]);
    // bin/broken is not read, so there is nothing to report and the exit status is 0.
    const r = await paths("--exclude", "bin", "--exclude", "debug", tree);
    expect(r.paths).toEqual(["/lib/.hidden.so", "/lib/libvers.so.1"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect((await paths("--exclude", "*.so*", tree)).paths).toEqual(["/bin/prog"]);
    expect((await paths("--exclude", "l?b", tree)).paths).toEqual(["/bin/prog"]);
    // `!` is a character like any other, not a negation that would leave out everything else.
    expect((await paths("--exclude", "!bin", tree)).paths).toHaveLength(4);
  });

  it("with a slash, a glob matches the whole path as printed: the root as given, then the path below it", async () => {
    expect((await paths("--exclude", `${tree}/lib/debug`, tree)).paths).toEqual(["/bin/prog", "/lib/.hidden.so", "/lib/libvers.so.1"]);
    // Not a suffix of the path: `lib/debug` names no path here, `**/lib/debug` does.
    expect((await paths("--exclude", "lib/debug", "--exclude", "bin/broken", tree)).paths).toHaveLength(4);
    expect((await paths("--exclude", "**/lib/debug", "--exclude", "**/bin/*", tree)).paths).toEqual(["/lib/.hidden.so", "/lib/libvers.so.1"]);
    const rel = await abilink(["scan", "--json", "--exclude", "tree/lib/*", "tree"], { cwd: join(tree, "..") });
    expect(rel.stdout.trim().split("\n").map((l) => JSON.parse(l).path)).toEqual(["tree/bin/prog"]);
  });

  it("applies to the roots too, with or without a trailing slash", async () => {
    expect((await paths("--exclude", "lib", join(tree, "lib/"), join(tree, "bin"))).paths).toEqual(["/bin/prog"]);
    expect((await paths("--exclude", join(tree, "lib"), join(tree, "lib/"), join(tree, "bin"))).paths).toEqual(["/bin/prog"]);
    expect((await paths("--exclude", "*.debug", join(tree, "lib/debug/usr/libvers.so.1.debug"))).paths).toEqual([]);
  });

  it("a bad glob is a usage error, before anything is read", async () => {
    for (const glob of ["", "lib/", "x".repeat(70_000)]) {
      const r = await abilink(["scan", "--exclude", glob, tree]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^error: option '--exclude <glob>' argument '.*' is invalid\. .+\n\(run with --help for usage\)$/);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    }
  });
});

describe("abilink scan --one-file-system", () => {
  // Root is needed to mount; CI runs as root on a fresh machine (.ci/run).
  let top: string;
  const mounts: string[] = [];
  beforeAll(async () => {
    top = join(tmp, "fs");
    mkdirSync(join(top, "mnt"), { recursive: true });
    copyFileSync(fx("x86_64/libvers.so.1"), join(top, "a.so"));
    for (const m of [join(top, "mnt"), join(top, "mnt", "inner")]) {
      mkdirSync(m, { recursive: true });
      await execa("mount", ["-t", "tmpfs", "-o", "size=4m", "abilink-test", m]);
      mounts.unshift(m);
    }
    copyFileSync(fx("x86_64/libvers.so.1"), join(top, "mnt", "b.so"));
    copyFileSync(fx("x86_64/libvers.so.1"), join(top, "mnt", "inner", "c.so"));
  });
  // Before the temporary directory is removed (the file's afterAll).
  afterAll(async () => {
    for (const m of mounts) await execa("umount", [m]);
  });

  const paths = async (...args: string[]) => {
    const r = await scanPaths(top, ...args);
    expect(r.code).toBe(0);
    return r.paths;
  };

  it("does not enter a directory on another device than its root; a root that is a mount point is walked", async () => {
    expect(statSync(join(top, "mnt")).dev).not.toBe(statSync(top).dev);
    expect(await paths(top)).toEqual(["/a.so", "/mnt/b.so", "/mnt/inner/c.so"]);
    expect(await paths("--one-file-system", top)).toEqual(["/a.so"]);
    expect(await paths("-x", join(top, "mnt"))).toEqual(["/mnt/b.so"]);
    // Each root is compared with its own device: the mount left out under the first root is walked as the second.
    expect(await paths("-x", top, join(top, "mnt"))).toEqual(["/a.so", "/mnt/b.so"]);
  });

  it("scan --one-file-system / does not walk /proc or /sys", async () => {
    expect(statSync("/proc").dev).not.toBe(statSync("/").dev);
    expect(statSync("/sys").dev).not.toBe(statSync("/").dev);
    // Everything else at the top is left out, to keep the walk short.
    const others = readdirSync("/").filter((n) => n !== "proc" && n !== "sys");
    const r = await abilink(["scan", "-x", ...others.flatMap((n) => ["--exclude", `/${n}`]), "/"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});
