// `abilink relink ROOT --out DIR`, the Nix store copy: a fake store with two copies of the
// system's glibc (A, and B at a longer path), a store path of real programs, a library of
// its own, symbolic links (inside the root, relative and absolute; outside it, absolute and
// relative), hard links, a set-user-ID program and a text file, pointed at A; written to DIR
// relinked onto B. A and the original root deleted: every program in DIR runs as before,
// ld.so's trace shows ld.so and libc from B only, the root's own references now name DIR.
// A DIR that exists and a FIFO in the root are refused; a run killed with SIGKILL at several
// points, then run again, gives the same tree as a run left alone.
import { execa } from "execa";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { abilink, bin } from "../support/cli.js";
import { withTmpDir } from "../support/tmp.js";
import { hasFiles, hasTool } from "../support/tools.js";

const GLIBC = ["ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libresolv.so.2", "libnss_files.so.2"];
const SYS = "/lib/x86_64-linux-gnu";
const PROGRAMS = ["ls", "cat", "echo", "head", "wc", "sort", "date", "env", "basename"];

let tmp = "";
withTmpDir((p) => (tmp = p));
let store = "";
let A = "";
let B = "";
let app = "";
let out = "";
let built = "";

/** A program's --version output (greet: its own output). */
async function run(path: string, env: Record<string, string> = {}) {
  const args = basename(path) === "greet" ? [] : ["--version"];
  const r = await execa(path, args, { reject: false, env: { LC_ALL: "C", ...env }, stdin: "ignore" });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

interface Node {
  type: "dir" | "file" | "symlink";
  mode: number;
  uid: number;
  gid: number;
  target?: string;
  sha?: string;
  /** The first name (walk order) of the file's inode: hard links share it. */
  inode?: string;
}

/** Every entry under `dir` (never following a link): type, mode, owner, link target, bytes' hash, hard-link group. */
function tree(dir: string): Record<string, Node> {
  const nodes: Record<string, Node> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(dir, r);
      const st = lstatSync(p);
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isSymbolicLink()) nodes[r] = { type: "symlink", ...base, target: readlinkSync(p) };
      else if (st.isDirectory()) {
        nodes[r] = { type: "dir", ...base };
        walk(r);
      } else {
        if (!inodes.has(st.ino)) inodes.set(st.ino, r);
        nodes[r] = { type: "file", ...base, sha: createHash("sha256").update(readFileSync(p)).digest("hex"), inode: inodes.get(st.ino)! };
      }
    }
  };
  walk("");
  return nodes;
}

/** Temporary trees left beside DIR. */
const leftovers = () => readdirSync(store).filter((n) => n.includes(".abilink-"));

describe.skipIf(!hasTool("gcc", "gcc") || !hasTool("readelf", "binutils") || !hasFiles(GLIBC.map((l) => (l.startsWith("ld-") ? `/lib64/${l}` : `${SYS}/${l}`)), "libc6"))(
  "abilink relink --out: a relinked copy of a store path",
  () => {
    beforeAll(async () => {
      // A library of the store path's own, and a program that needs it (built once).
      built = join(tmp, "built");
      mkdirSync(built);
      writeFileSync(join(built, "greet.c"), 'const char *greeting(void) { return "hello from libgreet"; }\n');
      writeFileSync(join(built, "main.c"), '#include <stdio.h>\nconst char *greeting(void);\nint main(void) { puts(greeting()); return 0; }\n');
      await execa("gcc", ["-shared", "-fPIC", "-Wl,-soname,libgreet.so.1", "-o", join(built, "libgreet.so.1"), join(built, "greet.c")]);
      await execa("gcc", ["-o", join(built, "greet"), join(built, "main.c"), "-L", built, "-l:libgreet.so.1"]);
    }, 30_000);

    beforeEach(async () => {
      store = join(tmp, `store-${Math.random().toString(36).slice(2, 8)}`);
      A = join(store, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-glibc-2.36-A");
      B = join(store, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-glibc-2.36-B-security-fix");
      app = join(store, "cccccccccccccccccccccccccccccccc-app");
      out = join(store, "dddddddddddddddddddddddddddddddd-app-relinked");
      for (const d of [join(A, "lib"), join(B, "lib"), join(app, "bin"), join(app, "lib"), join(app, "share", "doc")]) mkdirSync(d, { recursive: true });
      for (const l of GLIBC) {
        copyFileSync(l.startsWith("ld-") ? `/lib64/${l}` : `${SYS}/${l}`, join(A, "lib", l));
        copyFileSync(join(A, "lib", l), join(B, "lib", l));
      }
      for (const p of PROGRAMS) copyFileSync(`/usr/bin/${p}`, join(app, "bin", p));
      copyFileSync(join(built, "greet"), join(app, "bin", "greet"));
      copyFileSync(join(built, "libgreet.so.1"), join(app, "lib", "libgreet.so.1"));
      // Set-user-ID (mode only: nobody runs it as another user here).
      copyFileSync("/usr/bin/id", join(app, "bin", "id-suid"));
      const programs = readdirSync(join(app, "bin")).map((n) => join(app, "bin", n));
      const r = await abilink(["patch", "--set-interpreter", join(A, "lib", "ld-linux-x86-64.so.2"), "--set-runpath", `${join(A, "lib")}:${join(app, "lib")}`, ...programs]);
      expect(r.code, r.stderr).toBe(0);
      expect((await abilink(["patch", "--set-runpath", join(A, "lib"), join(app, "lib", "libgreet.so.1")])).code).toBe(0);
      chmodSync(join(app, "bin", "id-suid"), 0o4755);
      writeFileSync(join(app, "share", "doc", "README"), `built for ${app}\n`);
      // Hard links: a program and the text file, two names each.
      linkSync(join(app, "bin", "ls"), join(app, "bin", "dir"));
      linkSync(join(app, "share", "doc", "README"), join(app, "share", "README"));
      // Symbolic links: inside the root (relative, absolute, leaving and re-entering it), outside it (absolute, relative).
      symlinkSync("libgreet.so.1", join(app, "lib", "libgreet.so"));
      symlinkSync("../bin/cat", join(app, "share", "cat-rel"));
      symlinkSync(join(app, "bin", "cat"), join(app, "share", "cat-abs"));
      symlinkSync(`../../../${basename(app)}/bin/cat`, join(app, "share", "doc", "cat-roundabout"));
      symlinkSync("/etc/passwd", join(app, "share", "passwd"));
      symlinkSync(`../../${basename(B)}/lib/libc.so.6`, join(app, "share", "libc-B"));
      chmodSync(join(app, "share", "doc"), 0o750);
      if (process.getuid?.() === 0) chownSync(join(app, "share", "doc", "README"), 1234, 5678);
    }, 30_000);

    it("writes the tree relinked onto B; with A and the root gone, every program runs as before, from B", async () => {
      const programs = readdirSync(join(app, "bin")).filter((n) => n !== "id-suid");
      const before = await Promise.all(programs.map((p) => run(join(app, "bin", p))));
      for (const [i, b] of before.entries()) expect(b.code, programs[i]).toBe(0);
      const original = tree(app);

      const dry = await abilink(["relink", "--dry-run", app, "--out", out, "--replace", `${A}=${B}`]);
      expect([dry.code, dry.stderr]).toEqual([0, ""]);
      expect(dry.stdout).toContain(`runpath: ${A}/lib:${app}/lib -> ${B}/lib:${out}/lib`);
      expect(dry.stdout).toMatch(/nothing written \(--dry-run\); [\d.]+ s$/m);
      expect(existsSync(out)).toBe(false);

      const r = await abilink(["relink", app, "--out", out, "--replace", `${A}=${B}`]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      // 11 programs and libgreet rewritten (dir and ls: one file), the README's two names: one copied, one linked.
      expect(r.stdout).toMatch(/^15 files scanned: 12 rewritten, 1 copied unchanged, 2 hard links; 5 directories, 6 symbolic links \(2 retargeted\); \d+ bytes grown; ABI check: 13 files checked, 0 refused; written to /m);
      expect(Number(/(\d+) bytes grown/.exec(r.stdout)![1])).toBeGreaterThan(0);
      // Nothing outside DIR changed: the root is as it was, nothing is left beside DIR.
      expect(tree(app)).toEqual(original);
      expect(leftovers()).toEqual([]);

      const copy = tree(out);
      expect(Object.keys(copy)).toEqual(Object.keys(original));
      for (const [rel, node] of Object.entries(original)) {
        const c = copy[rel]!;
        expect([rel, c.type, c.mode, c.uid, c.gid, c.inode]).toEqual([rel, node.type, node.mode, node.uid, node.gid, node.inode]);
      }
      expect(copy["bin/id-suid"]!.mode).toBe(0o4755);
      expect(copy["share/doc"]!.mode).toBe(0o750);
      expect(lstatSync(join(out, "bin", "dir")).ino).toBe(lstatSync(join(out, "bin", "ls")).ino);
      expect(lstatSync(join(out, "share", "README")).ino).toBe(lstatSync(join(out, "share", "doc", "README")).ino);
      expect(lstatSync(join(out, "share", "README")).nlink).toBe(2);
      // The text file is copied as it is (its reference to the root is not a dynamic field).
      expect(copy["share/doc/README"]!.sha).toBe(original["share/doc/README"]!.sha);
      expect(Object.fromEntries(Object.entries(copy).filter(([, n]) => n.type === "symlink").map(([rel, n]) => [rel, n.target]))).toEqual({
        "lib/libgreet.so": "libgreet.so.1",
        "share/cat-rel": "../bin/cat",
        "share/cat-abs": join(out, "bin", "cat"),
        "share/doc/cat-roundabout": "../../bin/cat",
        "share/passwd": "/etc/passwd",
        "share/libc-B": `../../${basename(B)}/lib/libc.so.6`,
      });

      rmSync(A, { recursive: true });
      rmSync(app, { recursive: true });
      const after = await Promise.all(programs.map((p) => run(join(out, "bin", p))));
      expect(after).toEqual(before);
      expect((await run(join(out, "share", "cat-abs"))).code).toBe(0);
      expect((await run(join(out, "share", "doc", "cat-roundabout"))).code).toBe(0);
      // The root's own references now name DIR: RUNPATH and the library found through it.
      const dyn = (await execa("readelf", ["-d", join(out, "bin", "greet")])).stdout;
      expect(dyn).toContain(`Library runpath: [${B}/lib:${out}/lib]`);
      for (const p of ["ls", "greet"]) {
        const trace = (await run(join(out, "bin", p), { LD_DEBUG: "libs" })).stderr;
        const inits = [...trace.matchAll(/calling init: (\S+)/g)].map((m) => m[1]!);
        expect(inits.filter((x) => /\/(ld-linux-x86-64\.so\.2|libc\.so\.6)$/.test(x)).sort()).toEqual([join(B, "lib", "ld-linux-x86-64.so.2"), join(B, "lib", "libc.so.6")]);
        expect(trace).not.toContain(A);
        expect(trace).not.toContain(`${app}/`);
        if (p === "greet") expect(inits).toContain(join(out, "lib", "libgreet.so.1"));
      }
    }, 60_000);

    it("a DIR that exists is refused in one line, and left as it is", async () => {
      mkdirSync(out);
      writeFileSync(join(out, "mine"), "keep\n");
      const r = await abilink(["relink", app, "--out", out, "--replace", `${A}=${B}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`abilink: ${out}: exists already: --out writes a new tree (remove it, or name another); nothing written`);
      expect(readdirSync(out)).toEqual(["mine"]);
      expect(leftovers()).toEqual([]);
      // And the usage errors: --in-place with --out; two roots.
      expect((await abilink(["relink", "--in-place", app, "--out", `${out}-2`, "--replace", `${A}=${B}`])).code).toBe(2);
      expect((await abilink(["relink", app, B, "--out", `${out}-2`, "--replace", `${A}=${B}`])).code).toBe(2);
      expect(existsSync(`${out}-2`)).toBe(false);
    }, 30_000);

    it("a FIFO in the root is refused in one line naming it; no DIR", async () => {
      await execa("mkfifo", [join(app, "share", "pipe")]);
      const r = await abilink(["relink", app, "--out", out, "--replace", `${A}=${B}`]);
      expect(r.code).toBe(1);
      expect(r.stderr.split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(`${join(app, "share", "pipe")} (a FIFO) is a special file`);
      expect(existsSync(out)).toBe(false);
      expect(leftovers()).toEqual([]);
    }, 30_000);

    it("a run killed with SIGKILL never leaves a DIR that looks finished; a rerun gives the same tree", async () => {
      // Enough bytes and names that a kill lands while the tree is being written.
      const data = join(app, "share", "data");
      mkdirSync(data);
      writeFileSync(join(data, "big"), Buffer.alloc(64 << 20, 7));
      for (let i = 0; i < 400; i++) writeFileSync(join(data, `f${i}`), `file ${i}\n`);
      const args = [bin, "relink", app, "--out", out, "--replace", `${A}=${B}`];
      const t0 = Date.now();
      const ref = await abilink(args.slice(1));
      const took = Date.now() - t0;
      expect([ref.code, ref.stderr]).toEqual([0, ""]);
      const reference = tree(out);
      rmSync(out, { recursive: true });

      let stale = 0;
      for (const fraction of [0.3, 0.5, 0.65, 0.8, 0.9, 1.0]) {
        const child = spawn("node", args, { stdio: "ignore" });
        const exited = new Promise((res) => child.once("exit", res));
        await new Promise((res) => setTimeout(res, Math.round(took * fraction)));
        child.kill("SIGKILL");
        await exited;
        // Killed: either no DIR (perhaps a temporary tree beside it), or DIR complete.
        if (existsSync(out)) expect(tree(out), `killed at ${fraction}`).toEqual(reference);
        if (leftovers().length > 0) stale++;
        const again = await abilink(args.slice(1));
        if (again.code === 1) expect(again.stderr).toMatch(/exists already/);
        else expect([again.code, again.stderr], `rerun after a kill at ${fraction}`).toEqual([0, ""]);
        expect(tree(out), `rerun after a kill at ${fraction}`).toEqual(reference);
        expect(leftovers()).toEqual([]);
        rmSync(out, { recursive: true });
      }
      // At least one kill landed while the tree was being built (its temporary tree was removed by the rerun).
      expect(stale).toBeGreaterThan(0);
    }, 60_000);
  },
);
