// The write path under attack and bad luck (README, "Safety guarantees"): another user
// racing the temporary file, two runs on one file, a closed output pipe, a full disk, hard
// links, signals. Each test fails on the code before the hardening (run it with
// ABILINK_BIN=/path/to/old/bin/abilink to see).
import { execa } from "execa";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { abilink, bin } from "../support/cli.js";
import { findProgram } from "../support/patching.js";
import { readelf } from "../support/readelf.js";
import { hasTool } from "../support/tools.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const LONG = "/opt/abilink-test/a/runpath/long/enough/not/to/fit/in/place";
const work = mkdtempSync(join(tmpdir(), "als-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("skipping tests that need root (a second user, mounts): run the suite as root, as CI does");
const temporaries = (dir: string) => readdirSync(dir).filter((n) => n.includes("abilink"));
/** A fixture program with `mb` MiB appended: a large ELF file that still patches and runs. */
function bigProgram(path: string, mb: number): string {
  copyFileSync(fx("x86_64/prog"), path);
  writeFileSync(path, new Uint8Array(mb << 20), { flag: "a" });
  copyFileSync(fx("x86_64/libvers.so.1"), join(path, "..", "libvers.so.1"));
  return path;
}

describe.skipIf(!isRoot)("another user races the temporary file (root runs abilink in their directory)", () => {
  it("the attacker never gets a victim file written, chowned or chmodded; the program is patched or refused", async () => {
    // The attacker must be able to reach the directory: everything above it is searchable.
    chmodSync(work, 0o755);
    const dir = join(work, "userdir");
    mkdirSync(dir);
    chownSync(dir, 65534, 65534);
    const victimDir = mkdtempSync(join(work, "victim-"));
    const victim = join(victimDir, "victim");
    writeFileSync(victim, "victim\n", { mode: 0o600 });
    chmodSync(victimDir, 0o755);
    // The attacker (user nobody) watches the directory and, for every new name, puts a
    // symbolic link to the victim in its place: a file's name directly, a directory after
    // moving the directory away (so that whatever is opened by that name is the victim's).
    const attacker = `
      const fs = require("fs"), path = require("path");
      const dir = ${JSON.stringify(dir)}, victim = ${JSON.stringify(victim)};
      let n = 0;
      const swap = () => {
        for (const name of fs.readdirSync(dir)) {
          if (name === "prog" || name.startsWith("evil")) continue;
          const p = path.join(dir, name), s = path.join(dir, "evil" + n++);
          try {
            const st = fs.lstatSync(p);
            if (st.isSymbolicLink()) continue;
            if (st.isDirectory()) { fs.renameSync(p, path.join(dir, "evil-moved" + n++)); fs.symlinkSync(path.dirname(victim), p); }
            else { fs.symlinkSync(victim, s); fs.renameSync(s, p); }
          } catch {}
        }
      };
      fs.watch(dir, swap);
      const until = Date.now() + 60000;
      (function spin() { swap(); if (Date.now() < until) setImmediate(spin); else process.exit(0); })();
    `;
    const child = execa("node", ["-e", attacker], { uid: 65534, gid: 65534, reject: false });
    await new Promise((r) => setTimeout(r, 300));
    expect(child.exitCode, "the attacker is running").toBeNull();
    const codes: (number | undefined)[] = [];
    // A large program: its copy takes long enough for the attacker to act while it is made.
    const big = findProgram("node")!;
    for (let i = 0; i < 8; i++) {
      const prog = join(dir, "prog");
      copyFileSync(big, prog);
      chownSync(prog, 65534, 65534);
      const r = await execa("node", [bin, "patch", "--add-runpath", `${LONG}/${i}`, prog], { reject: false });
      codes.push(r.exitCode);
      expect(r.stderr).not.toMatch(/internal error/);
      const v = statSync(victim);
      expect({ size: v.size, uid: v.uid, mode: v.mode & 0o7777 }, "the victim file").toEqual({ size: 7, uid: 0, mode: 0o600 });
      expect(readFileSync(victim, "utf8")).toBe("victim\n");
      if (r.exitCode === 0) expect((await execa("readelf", ["-dW", prog])).stdout).toContain(`${LONG}/${i}]`);
      else expect(r.stderr).toMatch(/replaced|changed|already exists|symbolic links|no such file|private directory|not a directory/);
    }
    child.kill();
    await child;
    expect(codes.every((c) => c === 0 || c === 1)).toBe(true);
  }, 120_000);
});

describe("two runs on one file at once", () => {
  const node = findProgram("node")!;
  it("never a corrupt file, never a silently lost update: a run that exits 0 has its edit in the result", async () => {
    const dir = mkdtempSync(join(work, "conc-"));
    const f = join(dir, "node");
    for (let i = 0; i < 8; i++) {
      copyFileSync(node, f);
      const a = execa("node", [bin, "patch", "--layout", "shift", "--add-runpath", LONG, f], { reject: false });
      await new Promise((r) => setTimeout(r, (i * 37) % 250));
      const b = execa("node", [bin, "patch", "--add-needed", "libabilink-b.so.1", f], { reject: false });
      const [ra, rb] = await Promise.all([a, b]);
      for (const r of [ra, rb]) {
        expect([0, 1]).toContain(r.exitCode);
        if (r.exitCode === 1) expect(r.stderr).toMatch(/replaced by another program|changed by another program/);
      }
      expect(ra.exitCode === 0 || rb.exitCode === 0).toBe(true);
      const after = await readelf(f);
      if (ra.exitCode === 0) expect(after.runpath).toContain(LONG);
      if (rb.exitCode === 0) expect(after.needed).toContain("libabilink-b.so.1");
      if (!after.needed.includes("libabilink-b.so.1")) expect((await execa(f, ["--version"], { reject: false })).exitCode).toBe(0);
      expect(temporaries(dir)).toEqual([]);
    }
  }, 240_000);
});

describe("a closed output pipe", () => {
  it("patch finishes every file, leaves no temporary file, and exits non-zero: it could not report", async () => {
    const dir = mkdtempSync(join(work, "pipe-"));
    const files = Array.from({ length: 100 }, (_, i) => {
      const f = join(dir, `f${i}`);
      copyFileSync(fx("x86_64/prog"), f);
      return f;
    });
    const script = `set -o pipefail; node "$0" patch --json --add-runpath ${LONG} "$@" | head -c 10 > /dev/null`;
    const r = await execa("bash", ["-c", script, bin, ...files], { reject: false });
    expect(r.exitCode).toBe(1);
    for (const f of files) expect((await readelf(f)).runpath.at(-1)).toBe(LONG);
    expect(temporaries(dir)).toEqual([]);
  });

  it("diff keeps its status (12) when nobody reads its report", async () => {
    const old = fx("x86_64/libvers.so.1");
    // The library's own manifest without one symbol: an incompatible change from it to the library.
    const abi = (await abilink(["abi", old])).stdout.split("\n");
    const neu = join(work, "fewer.abi");
    writeFileSync(neu, abi.filter((l) => !l.startsWith("symbol vers_hello@")).join("\n"));
    const direct = await abilink(["diff", old, neu]);
    expect(direct.code).toBe(12);
    const r = await execa("bash", ["-c", `set -o pipefail; node "$0" diff "$1" "$2" | true`, bin, old, neu], { reject: false });
    expect(r.exitCode).toBe(12);
  });
});

describe.skipIf(!isRoot)("a full file system (a 1 MiB tmpfs)", () => {
  const mnt = join(work, "full");
  let mounted = false;
  afterAll(async () => {
    if (mounted) await execa("umount", [mnt], { reject: false });
  });

  it("--in-place, atomic and patchelf refuse with ENOSPC and leave the file as it was", async () => {
    mkdirSync(mnt);
    await execa("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
    mounted = true;
    const f = join(mnt, "prog");
    copyFileSync(fx("x86_64/prog"), f);
    // Trailing bytes up to a page boundary: any growth needs a block the disk does not have.
    writeFileSync(f, new Uint8Array(4096 - (statSync(f).size % 4096)), { flag: "a" });
    const before = sha(f);
    // Fill what is left.
    await execa("dd", ["if=/dev/zero", `of=${join(mnt, "fill")}`, "bs=4k"], { reject: false });
    for (const args of [
      ["patch", "--in-place", "--layout", "new-segment", "--add-runpath", LONG, f],
      ["patch", "--layout", "new-segment", "--add-runpath", LONG, f],
      // A search path longer than any slack: patchelf's edits must grow the file too.
      ["patchelf", "--set-rpath", Array.from({ length: 90 }, (_, i) => `${LONG}/${i}`).join(":"), f],
    ]) {
      const r = await execa("node", [bin, ...args], { reject: false });
      expect(r.exitCode, args.join(" ")).toBe(1);
      expect(r.stderr).toMatch(/ENOSPC|no space/i);
      expect(r.stderr).not.toMatch(/damaged|internal error/);
      expect(sha(f)).toBe(before);
      expect(temporaries(mnt)).toEqual([]);
    }
  });
});

describe("hard links", () => {
  it("every name given ends on the new file, each with its record; a name not given keeps the old one, and the record says so", async () => {
    const dir = mkdtempSync(join(work, "links-"));
    const [h1, h2, h3] = ["h1", "h2", "h3"].map((n) => join(dir, n)) as [string, string, string];
    copyFileSync(fx("x86_64/prog"), h1);
    linkSync(h1, h2);
    linkSync(h1, h3);
    const old = sha(h3);
    const r = await abilink(["patch", "--json", "--add-runpath", LONG, h1, h2]);
    expect(r.code).toBe(0);
    const recs = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(recs.map((x) => [x.path, x.otherNames, x.hardLinkOf])).toEqual([
      [h1, 1, null],
      [h2, 1, h1],
    ]);
    expect(statSync(h1).ino).toBe(statSync(h2).ino);
    expect((await readelf(h2)).runpath.at(-1)).toBe(LONG);
    expect(sha(h3)).toBe(old);
    const v = await abilink(["patch", "-v", "--add-runpath", `${LONG}/x`, h1]);
    expect(v.stdout).toMatch(/1 other name of this file, not given, keeps the old contents/);
  });
});

describe("an output that is not a regular file", () => {
  it("patch -o and patchelf --output refuse a FIFO or a directory there (the rename would replace it, as it replaced /dev/null)", async () => {
    const dir = mkdtempSync(join(work, "special-"));
    const fifo = join(dir, "fifo");
    await execa("mkfifo", [fifo]);
    mkdirSync(join(dir, "d"));
    for (const [args, who] of [
      [["patch", "--add-runpath", LONG, "-o", fifo, fx("x86_64/prog")], "abilink"],
      [["patchelf", "--add-rpath", LONG, "--output", fifo, fx("x86_64/prog")], "patchelf"],
      [["patch", "--add-runpath", LONG, "-o", join(dir, "d"), fx("x86_64/prog")], "abilink"],
    ] as const) {
      const r = await abilink([...args]);
      const out = args.at(-2)!;
      expect([r.code, r.stderr]).toEqual([1, `${who}: ${out}: is ${out === fifo ? "a FIFO" : "a directory"}, not a regular file: refusing to replace it`]);
    }
    expect(statSync(fifo).isFIFO()).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["d", "fifo"]);
  });
});

describe.skipIf(!isRoot)("temporary copies in flight", () => {
  const mnt = join(work, "small");
  let mounted = false;
  afterAll(async () => {
    if (mounted) await execa("umount", [mnt], { reject: false });
  });

  it("on a file system with room for the files and three more copies, 12 large files patch with -j 2", async () => {
    mkdirSync(mnt);
    // 12 files of 8 MiB and room for 3 more copies of one.
    await execa("mount", ["-t", "tmpfs", "-o", `size=${15 * 8 + 4}m`, "tmpfs", mnt]);
    mounted = true;
    const files = Array.from({ length: 12 }, (_, i) => bigProgram(join(mnt, `big${i}`), 8));
    const r = await abilink(["patch", "--json", "--jobs", "2", "--layout", "new-segment", "--add-runpath", LONG, ...files]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const f of files) expect((await readelf(f)).runpath.at(-1)).toBe(LONG);
    expect(temporaries(mnt)).toEqual([]);
  });
});

describe("signals", () => {
  for (const [signal, status] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`${signal} part-way: exit ${status}, no temporary file left, every file old or new, set-user-ID bits only on complete files`, async () => {
      const dir = mkdtempSync(join(work, "sig-"));
      const files = Array.from({ length: 40 }, (_, i) => bigProgram(join(dir, `big${i}`), 24));
      const inodes = files.map((f) => statSync(f).ino);
      for (const f of files.slice(0, 4)) chmodSync(f, 0o4755);
      const old = sha(files[0]!);
      const reference = join(dir, "reference");
      expect((await abilink(["patch", "--add-runpath", LONG, "-o", reference, files[0]!])).code).toBe(0);
      const neu = sha(reference);
      rmSync(reference);
      const child = execa("node", [bin, "patch", "--jobs", "2", "--add-runpath", LONG, ...files], { reject: false });
      // The signal comes once the first file has been replaced: the run is under way.
      while (files.every((f, i) => statSync(f).ino === inodes[i]) && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
      child.kill(signal);
      const r = await child;
      expect(r.exitCode).toBe(status);
      expect(temporaries(dir)).toEqual([]);
      let newCount = 0;
      for (const f of files) {
        const h = sha(f);
        expect([old, neu]).toContain(h);
        if (h === neu) newCount++;
      }
      expect(newCount).toBeLessThan(files.length);
      for (const f of files.slice(0, 4)) expect(statSync(f).mode & 0o7777).toBe(0o4755);
    }, 60_000);
  }
});

describe.skipIf(!hasTool("readelf", "binutils"))("inputs that would be read without end", () => {
  it("abi of /dev/zero and hash of a 3 GB non-ELF file are refused before reading", async () => {
    const zero = await execa("node", [bin, "abi", "/dev/zero"], { reject: false, timeout: 30_000 });
    expect(zero.exitCode).toBe(1);
    expect(zero.stderr).toMatch(/^abilink: \/dev\/zero: not a regular file or a pipe$/m);
    const big = join(work, "big.abi");
    writeFileSync(big, "");
    await execa("truncate", ["-s", "3G", big]);
    const h = await execa("/usr/bin/time", ["-f", "%M", "node", bin, "hash", big], { reject: false, timeout: 30_000 });
    expect(h.exitCode).toBe(1);
    expect(h.stderr).toMatch(/too large for a manifest/);
    // Peak RSS in KiB (GNU time's last line): nothing like the file's size.
    expect(Number(h.stderr.trim().split("\n").at(-1))).toBeLessThan(200 * 1024);
  });
});
