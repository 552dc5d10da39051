// `abilink patch` as a command: errors leave inputs untouched, dry runs write nothing,
// repeated edits write nothing, atomic and in-place writes, the Nix store guard, and a
// run killed part-way.
import { execa } from "execa";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getAttributeSync, setAttributeSync } from "fs-xattr";
import { afterAll, describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";
import { findProgram, runProgram } from "../support/patching.js";
import { readelf } from "../support/readelf.js";
import { hasTool } from "../support/tools.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "alc-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
const LONG = "/opt/abilink-test/a/runpath/long/enough/not/to/fit/in/place";

function fresh(src: string, name = src.split("/").pop()!): string {
  const dir = mkdtempSync(join(work, "t-"));
  const dest = join(dir, name);
  copyFileSync(src, dest);
  return dest;
}

describe("abilink patch: bad input is refused in one line and left untouched", () => {
  it("not ELF", async () => {
    const f = join(mkdtempSync(join(work, "n-")), "script.sh");
    writeFileSync(f, "#!/bin/sh\necho hi\n");
    const r = await abilink(["patch", "--set-runpath", "/x", f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`abilink: ${f}: not an ELF file (bad magic)`);
    expect(readFileSync(f, "utf8")).toBe("#!/bin/sh\necho hi\n");
  });

  it("truncated ELF", async () => {
    const f = fresh(fx("x86_64/prog"));
    writeFileSync(f, readFileSync(f).subarray(0, 900));
    const before = sha(f);
    const r = await abilink(["patch", "--set-runpath", LONG, f]);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")).toHaveLength(1);
    expect(sha(f)).toBe(before);
    expect(readdirSync(join(f, ".."))).toEqual(["prog"]);
  });

  it.skipIf(!hasTool("qemu-aarch64-static", "qemu-user-static"))("a static program given --set-interpreter", async () => {
    const f = fresh(findProgram("qemu-aarch64-static")!);
    const before = sha(f);
    const r = await abilink(["patch", "--set-interpreter", "/lib64/ld-linux-x86-64.so.2", f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has no interpreter \(PT_INTERP\) to set/);
    expect(sha(f)).toBe(before);
  });

  it("a file without a dynamic section given a dynamic edit", async () => {
    const obj = join(mkdtempSync(join(work, "o-")), "x.o");
    await execa("gcc", ["-c", "-x", "c", "-o", obj, "-"], { input: "int x = 1;\n" });
    const r = await abilink(["patch", "--add-needed", "libm.so.6", obj]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has no dynamic section/);
  });

  it("removing a library whose versions symbols still need", async () => {
    const f = fresh(fx("x86_64/prog"));
    const before = sha(f);
    const r = await abilink(["patch", "--remove-needed", "libvers.so.1", f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot remove libvers\.so\.1: symbols still need its versions \(vers_/);
    expect(sha(f)).toBe(before);
  });

  it("removing a library whose versions no symbol uses drops its .gnu.version_r entry too", async () => {
    const f = fresh(fx("x86_64/prog"));
    const users = (await readelf(f)).symbols.filter((s) => s.version?.startsWith("VERS_")).map((s) => s.name);
    const clear = [...new Set(users)].flatMap((n) => ["--clear-symbol-version", n]);
    expect((await execa("node", [new URL("../../bin/abilink", import.meta.url).pathname, "patchelf", ...clear, f])).exitCode).toBe(0);
    const r = await abilink(["patch", "--remove-needed", "libvers.so.1", f]);
    expect(r.stderr).toBe("");
    const v = await readelf(f);
    expect(v.stderr).toBe("");
    expect(v.needed).toEqual(["libc.so.6"]);
    expect(v.verneed?.map((x) => x.file)).toEqual(["libc.so.6"]);
    const lint = await execa("eu-elflint", ["--gnu-ld", "-q", f], { reject: false });
    expect(lint.stdout).toBe("");
  });

  it("one bad file does not stop the others", async () => {
    const good = fresh(fx("x86_64/prog"));
    const bad = join(mkdtempSync(join(work, "b-")), "bad");
    writeFileSync(bad, "nope");
    const r = await abilink(["patch", "--set-runpath", "/r", bad, good]);
    expect(r.code).toBe(1);
    expect((await readelf(good)).runpath).toEqual(["/r"]);
  });
});

describe("abilink patch: what gets written", () => {
  it("--dry-run prints the plan and writes nothing", async () => {
    const f = fresh(fx("x86_64/prog"));
    const before = sha(f);
    const r = await abilink(["patch", "--dry-run", "--set-runpath", LONG, f]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`runpath: $ORIGIN -> ${LONG}`);
    // This fixture has room after its first segment: .dynstr grows there and the file does not.
    expect(r.stdout).toMatch(/grows by 0 bytes: the PT_LOAD at program header \d+ extended by \d+ bytes into the unused space after it; moves .gnu.version, .gnu.version_r, .rela.dyn, .rela.plt/);
    const forced = await abilink(["patch", "--dry-run", "--layout", "new-segment", "--set-runpath", LONG, f]);
    expect(forced.stdout).toMatch(/grows by \d+ bytes: new PT_LOAD \(R\) at offset 0x[0-9a-f]+, vaddr 0x[0-9a-f]+/);
    expect(sha(f)).toBe(before);
    const small = await abilink(["patch", "--dry-run", "--json", "--set-runpath", "/r", f]);
    const rec = JSON.parse(small.stdout);
    expect([rec.changed, rec.written, rec.inPlace, rec.growth]).toEqual([true, false, true, 0]);
  });

  it("repeating an edit writes nothing and does not grow the file", async () => {
    const f = fresh(fx("x86_64/prog"));
    expect((await abilink(["patch", "--set-runpath", LONG, "--add-needed", "libm.so.6", f])).code).toBe(0);
    const st = statSync(f);
    const hash = sha(f);
    const again = await abilink(["patch", "--json", "--set-runpath", LONG, "--add-needed", "libm.so.6", f]);
    expect(JSON.parse(again.stdout)).toMatchObject({ changed: false, written: false, growth: 0 });
    const st2 = statSync(f);
    expect([st2.ino, st2.size, st2.mtimeMs, sha(f)]).toEqual([st.ino, st.size, st.mtimeMs, hash]);
  });

  it("the default write is atomic (new inode, same mode); --in-place keeps the inode and hard links", async () => {
    const f = fresh(fx("x86_64/prog"));
    chmodSync(f, 0o751);
    const link = `${f}.link`;
    linkSync(f, link);
    const ino = statSync(f).ino;
    await abilink(["patch", "--set-runpath", LONG, f]);
    expect(statSync(f).ino).not.toBe(ino);
    expect(statSync(f).mode & 0o7777).toBe(0o751);
    expect((await readelf(link)).runpath).toEqual(["$ORIGIN"]);
    expect(readdirSync(join(f, "..")).sort()).toEqual(["prog", "prog.link"]);

    const g = fresh(fx("x86_64/prog"));
    linkSync(g, `${g}.link`);
    const gino = statSync(g).ino;
    await abilink(["patch", "--in-place", "--set-runpath", LONG, g]);
    expect(statSync(g).ino).toBe(gino);
    expect((await readelf(`${g}.link`)).runpath).toEqual([LONG]);
    const ran = await runProgram(["./prog"], { cwd: join(g, ".."), env: { LD_LIBRARY_PATH: fx("x86_64") } });
    expect(ran.stdout).toContain("hello from libvers");
  });

  it("the atomic write keeps extended attributes; set-user-ID survives the owner being set", async () => {
    const f = fresh(fx("x86_64/prog"));
    setAttributeSync(f, "user.abilink.test", "kept");
    chmodSync(f, 0o4755);
    await abilink(["patch", "--set-runpath", LONG, f]);
    expect((await readelf(f)).runpath).toEqual([LONG]);
    expect(String(getAttributeSync(f, "user.abilink.test"))).toBe("kept");
    expect(statSync(f).mode & 0o7777).toBe(0o4755);
  });

  it("-o writes the result elsewhere and leaves the input alone, even when nothing changes", async () => {
    const f = fresh(fx("x86_64/prog"));
    const before = sha(f);
    const out = join(work, "out-prog");
    expect((await abilink(["patch", "--set-runpath", LONG, "-o", out, f])).code).toBe(0);
    expect(sha(f)).toBe(before);
    expect((await readelf(out)).runpath).toEqual([LONG]);
    const same = join(work, "out-same");
    expect((await abilink(["patch", "--set-runpath", "$ORIGIN", "-o", same, f])).code).toBe(0);
    expect(sha(same)).toBe(before);
  });

  it("many files: the same records in input order whatever --jobs is; one inode is patched once, every name given gets the new file and a record", async () => {
    const run = async (jobs: string) => {
      const dir = mkdtempSync(join(work, "m-"));
      const files: string[] = [];
      for (let i = 0; i < 60; i++) {
        const f = join(dir, `f${String(i).padStart(2, "0")}`);
        copyFileSync(fx(["x86_64/prog", "i386/prog", "aarch64/libvers.so.1", "s390x/prog"][i % 4]!), f);
        files.push(f);
      }
      linkSync(files[0]!, join(dir, "hardlink"));
      const r = await abilink(["patch", "--json", "--jobs", jobs, "--add-runpath", LONG, ...files, files[3]!, join(dir, "hardlink")]);
      expect(r.code).toBe(0);
      const recs = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(recs.map((x) => x.path)).toEqual([...files, files[3]!, join(dir, "hardlink")]);
      for (const f of files) expect((await readelf(f)).runpath.at(-1)).toBe(LONG);
      // The second name of files[0] now names the new file too.
      expect(statSync(join(dir, "hardlink")).ino).toBe(statSync(files[0]!).ino);
      expect(recs.at(-1).hardLinkOf).toBe(files[0]);
      return recs.map((x) => ({ ...x, path: x.path.slice(dir.length), dest: x.dest.slice(dir.length), hardLinkOf: x.hardLinkOf?.slice(dir.length) ?? null }));
    };
    expect(await run("4")).toEqual(await run("1"));
  });

  it("refuses files in the Nix store unless forced", async () => {
    const store = join(work, "nix", "store");
    mkdirSync(join(store, "abc-prog"), { recursive: true });
    const f = join(store, "abc-prog", "prog");
    copyFileSync(fx("x86_64/prog"), f);
    const env = { NIX_STORE_DIR: store };
    const r = await execa("node", [new URL("../../bin/abilink", import.meta.url).pathname, "patch", "--set-runpath", "/r", f], { reject: false, env });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/inside the Nix store/);
    const forced = await execa("node", [new URL("../../bin/abilink", import.meta.url).pathname, "patch", "--force", "--set-runpath", "/r", f], { reject: false, env });
    expect(forced.exitCode).toBe(0);
    expect((await readelf(f)).runpath).toEqual(["/r"]);
  });

  it("a run killed part-way leaves the file either old or new, never half-written", async () => {
    const big = findProgram("node")!;
    const f = fresh(big, "big");
    const old = sha(f);
    const expectedOut = join(work, "big-expected");
    await abilink(["patch", "--set-runpath", LONG, "-o", expectedOut, f]);
    const neu = sha(expectedOut);
    expect(neu).not.toBe(old);
    const seen = new Set<string>();
    for (const delay of [30, 60, 90, 120, 150, 200, 300]) {
      copyFileSync(big, f);
      const child = execa("node", [new URL("../../bin/abilink", import.meta.url).pathname, "patch", "--set-runpath", LONG, f], { reject: false });
      await new Promise((r) => setTimeout(r, delay));
      child.kill("SIGKILL");
      await child;
      const now = sha(f);
      expect([old, neu]).toContain(now);
      seen.add(now === old ? "old" : "new");
    }
    // A private directory with a temporary file may remain after a kill (SIGKILL cannot be
    // caught); it is never the file itself, and only its owner can enter it.
    for (const n of readdirSync(join(f, ".."))) {
      expect(n === "big" || /^\.abilink-[A-Za-z0-9_-]{8}$/.test(n)).toBe(true);
      if (n !== "big") expect(statSync(join(f, "..", n)).mode & 0o777).toBe(0o700);
    }
  });
});
