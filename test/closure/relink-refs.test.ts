// `abilink relink`, references to OLD outside the dynamic fields: a wrapper script, a .pc
// file, a string in a program's .rodata and a symbolic link, in a small fake store (as in
// relink.test.ts: glibc A and B, programs pointed at A). With NEW as long as OLD every one is
// rewritten and the programs run; with a longer NEW each is reported at the offset
// `grep -boa` finds, and --strict refuses the run before anything is written. The scanner
// against a naive one (fast-check), and a match across its chunk boundary.
import { execa } from "execa";
import fc from "fast-check";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getAttributeSync, setAttributeSync } from "fs-xattr";
import { beforeEach, describe, expect, it } from "vitest";
import { SCAN_CHUNK, findReferences, isNameByte, scanBytes } from "../../src/closure/relink-refs.js";
import { abilink } from "../support/cli.js";
import { withTmpDir } from "../support/tmp.js";
import { hasFiles, hasTool } from "../support/tools.js";

const GLIBC = ["ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6"];
const SYS = "/lib/x86_64-linux-gnu";
const PROGRAMS = ["ls", "cat", "echo"];

let tmp = "";
withTmpDir((p) => (tmp = p));
const isRoot = process.getuid?.() === 0;

/** The scanner's rule, written the obvious way: at each offset, the first OLD whose bytes are there and end a component. */
function naive(bytes: Uint8Array, olds: Uint8Array[]): { offset: number; index: number }[] {
  const out: { offset: number; index: number }[] = [];
  for (let i = 0; i < bytes.length; ) {
    const index = olds.findIndex((o) => i + o.length <= bytes.length && o.every((b, k) => bytes[i + k] === b) && (i + o.length === bytes.length || !isNameByte(bytes[i + o.length]!)));
    if (index < 0) i++;
    else {
      out.push({ offset: i, index });
      i += olds[index]!.length;
    }
  }
  return out;
}

describe("the scanner", () => {
  const enc = (s: string) => Buffer.from(s, "latin1");

  it("matches whole components only", () => {
    const olds = [enc("/opt/a")];
    const text = enc(`x=/opt/a\n"/opt/a/lib" /opt/ab /opt/a-2 /opt/a.old /opt/a:/opt/a\0/opt/a`);
    expect(scanBytes(text, olds).map((m) => m.offset)).toEqual([2, 10, 50, 57, 64]);
    expect(scanBytes(text, olds)).toEqual(naive(text, olds));
  });

  it("agrees with a naive scan on random bytes with OLD and near misses inserted, for any chunk size", () => {
    const olds = [enc("/s/aa"), enc("/s/aa/b"), enc("/t")];
    // Bytes that make near misses likely: parts of OLD, name bytes, component ends.
    const byte = fc.constantFrom(...enc("/sabt.-_\0 :\"\n"), 0x80, 0xff);
    const piece = fc.oneof(
      fc.array(byte, { maxLength: 6 }).map((b) => Uint8Array.from(b)),
      fc.constantFrom(...olds),
      fc.tuple(fc.constantFrom(...olds), fc.constantFrom(...enc("a-._~09"), 0xc3)).map(([o, b]) => Uint8Array.from([...o, b])),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.integer({ min: 1, max: 12 }), (pieces, chunk) => {
        const bytes = Uint8Array.from(pieces.flatMap((p) => [...p]));
        expect(scanBytes(bytes, olds, chunk)).toEqual(naive(bytes, olds));
      }),
      { numRuns: 2000 },
    );
  });

  it("finds an OLD that straddles the 1 MiB chunk boundary of a file, once, and a near miss across it not at all", () => {
    const old = "/opt/glibc-A";
    const path = join(tmp, "straddle.bin");
    const bytes = Buffer.alloc(2 * SCAN_CHUNK + 100, 0x61);
    const at = [SCAN_CHUNK - 5, 2 * SCAN_CHUNK - old.length, 2 * SCAN_CHUNK + 100 - old.length];
    for (const a of at) bytes.write(old, a, "latin1");
    bytes[SCAN_CHUNK - 5 + old.length] = 0x2f; // "/": a component follows
    bytes[2 * SCAN_CHUNK] = 0x22; // a quote right after the chunk's end
    writeFileSync(path, bytes);
    const refs = findReferences(path, [{ from: old, to: "/opt/glibc-B" }]);
    expect(refs.map((r) => r.offset)).toEqual(at);
    expect(refs.every((r) => r.sameLength && r.kind === "bytes")).toBe(true);
    // A near miss across the boundary: OLD ending the chunk, a name byte starting the next.
    bytes[2 * SCAN_CHUNK] = 0x2d;
    writeFileSync(path, bytes);
    expect(findReferences(path, [{ from: old, to: "/x" }]).map((r) => r.offset)).toEqual([at[0], at[2]]);
  });
});

const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir, { recursive: true, encoding: "utf8" }).map((n) => {
      const p = join(dir, n);
      const st = lstatSync(p);
      return [n, st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : st.isFile() ? readFileSync(p).toString("base64") : "dir"];
    }),
  );

/** `grep -boa`'s offsets of `needle` in `file`. */
async function grepOffsets(file: string, needle: string): Promise<number[]> {
  const r = await execa("grep", ["-boaF", needle, file], { reject: false });
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => Number(l.split(":")[0]));
}

describe.skipIf(!hasTool("gcc", "gcc") || !hasFiles(GLIBC.map((l) => (l.startsWith("ld-") ? `/lib64/${l}` : `${SYS}/${l}`)), "libc6"))("abilink relink: references outside the dynamic fields", () => {
  let store = "";
  let A = "";
  let app = "";

  /** A glibc copy at `name` in the store. */
  const glibc = (name: string) => {
    const d = join(store, name);
    mkdirSync(join(d, "lib"), { recursive: true });
    for (const l of GLIBC) copyFileSync(l.startsWith("ld-") ? `/lib64/${l}` : `${SYS}/${l}`, join(d, "lib", l));
    return d;
  };

  beforeEach(async () => {
    store = join(tmp, `store-${Math.random().toString(36).slice(2, 8)}`);
    A = glibc("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-glibc-2.36-A");
    app = join(store, "cccccccccccccccccccccccccccccccc-app");
    for (const d of [join(app, "bin"), join(app, "lib", "pkgconfig"), join(app, "share")]) mkdirSync(d, { recursive: true });
    for (const p of PROGRAMS) copyFileSync(`/usr/bin/${p}`, join(app, "bin", p));
    // A program with OLD in .rodata: it prints where its locale data is.
    const c = join(tmp, "where.c");
    writeFileSync(c, `#include <stdio.h>\nstatic const char where[] = "${A}/share/locale";\nint main(void) { puts(where); return 0; }\n`);
    await execa("gcc", ["-O1", "-o", join(app, "bin", "where"), c]);
    const bins = readdirSync(join(app, "bin")).map((n) => join(app, "bin", n));
    const r = await abilink(["patch", "--set-interpreter", join(A, "lib", "ld-linux-x86-64.so.2"), "--set-runpath", join(A, "lib"), ...bins]);
    expect(r.code, r.stderr).toBe(0);
    // A wrapper naming OLD/bin/x, a .pc file with prefix=OLD (and a near miss), a link into OLD.
    writeFileSync(join(app, "bin", "x-wrapper"), `#!/bin/sh\nexec "${A}/bin/x" "$@"\n`, { mode: 0o755 });
    writeFileSync(join(app, "lib", "pkgconfig", "glibc.pc"), `prefix=${A}\nlibdir=\${prefix}/lib\nLibs: -L${A}/lib -lc\nother=${A}-extra/lib\n`);
    symlinkSync(join(A, "lib", "libc.so.6"), join(app, "lib", "libc.so.6"));
    symlinkSync("../lib/libc.so.6", join(app, "share", "relative"));
  }, 60_000);

  it("NEW as long as OLD: every reference is rewritten, the programs run from B, and a rerun changes nothing", async () => {
    const B = glibc("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-glibc-2.36-B");
    expect(B.length).toBe(A.length);
    const dry = await abilink(["relink", "--dry-run", "--json", app, "--replace", `${A}=${B}`]);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout);
    // where (1), the wrapper (1), the .pc file (2), the link (1); the near miss is not one.
    expect(plan.references).toEqual({ rewritten: 0, toRewrite: 5, remaining: [] });

    const r = await abilink(["relink", "--in-place", "--strict", app, "--replace", `${A}=${B}`]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(/references outside the dynamic fields: 5 rewritten, 0 remaining/);
    for (const n of ["where", "x-wrapper", "ls"]) {
      expect(await grepOffsets(join(app, "bin", n), A)).toEqual([]);
    }
    expect(readFileSync(join(app, "bin", "x-wrapper"), "utf8")).toBe(`#!/bin/sh\nexec "${B}/bin/x" "$@"\n`);
    expect(lstatSync(join(app, "bin", "x-wrapper")).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(app, "lib", "pkgconfig", "glibc.pc"), "utf8")).toBe(`prefix=${B}\nlibdir=\${prefix}/lib\nLibs: -L${B}/lib -lc\nother=${A}-extra/lib\n`);
    expect(readlinkSync(join(app, "lib", "libc.so.6"))).toBe(join(B, "lib", "libc.so.6"));
    expect(readlinkSync(join(app, "share", "relative"))).toBe("../lib/libc.so.6");

    rmSync(A, { recursive: true });
    expect((await execa(join(app, "bin", "where"))).stdout).toBe(`${B}/share/locale`);
    for (const p of PROGRAMS) expect((await execa(join(app, "bin", p), ["--version"], { reject: false })).exitCode).toBe(0);

    const before = snapshot(app);
    const again = await abilink(["relink", "--in-place", "--strict", app, "--replace", `${A}=${B}`]);
    expect([again.code, again.stderr]).toEqual([0, ""]);
    expect(again.stdout).toMatch(/0 to rewrite/);
    expect(again.stdout).not.toMatch(/references outside/);
    expect(snapshot(app)).toEqual(before);
  }, 120_000);

  it("--out: references of NEW's length are rewritten in DIR's copies, the root untouched; --strict with a longer NEW refuses before writing", async () => {
    const B = glibc("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-glibc-2.36-B");
    // As root: a file capability (cap_net_raw+ep, vfs_cap_data revision 2) on the program whose
    // .rodata names OLD. Its copy gets NEW's bytes there before its capability, which a write would clear.
    const cap = Buffer.alloc(20);
    cap.writeUInt32LE(0x02000001, 0);
    cap.writeUInt32LE(1 << 13, 4);
    if (isRoot) setAttributeSync(join(app, "bin", "where"), "security.capability", cap);
    const before = snapshot(app);
    const dir = join(store, "dddddddddddddddddddddddddddddddd-app");
    const r = await abilink(["relink", app, "--out", dir, "--strict", "--replace", `${A}=${B}`]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(/references outside the dynamic fields: 4 rewritten, 0 remaining/);
    expect(readFileSync(join(dir, "bin", "x-wrapper"), "utf8")).toBe(`#!/bin/sh\nexec "${B}/bin/x" "$@"\n`);
    expect(readFileSync(join(dir, "lib", "pkgconfig", "glibc.pc"), "utf8")).toContain(`prefix=${B}\n`);
    expect(await grepOffsets(join(dir, "bin", "where"), A)).toEqual([]);
    if (isRoot) expect(getAttributeSync(join(dir, "bin", "where"), "security.capability")).toEqual(cap);
    expect(readlinkSync(join(dir, "lib", "libc.so.6"))).toBe(join(B, "lib", "libc.so.6"));
    rmSync(A, { recursive: true });
    expect((await execa(join(dir, "bin", "where"))).stdout).toBe(`${B}/share/locale`);
    expect(snapshot(app)).toEqual(before);

    const longer = glibc("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-glibc-2.36-B-security-fix");
    const dir2 = join(store, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-app");
    const strict = await abilink(["relink", app, "--out", dir2, "--strict", "--no-abi-check", "--replace", `${A}=${longer}`]);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/remaining; refused by --strict, nothing written/);
    expect(existsSync(dir2)).toBe(false);
  }, 120_000);

  it("a longer NEW: each remaining reference is reported at grep's offset; --strict exits 1 and writes nothing", async () => {
    const B = glibc("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-glibc-2.36-B-security-fix");
    const before = snapshot(app);
    const dry = await abilink(["relink", "--dry-run", "--json", app, "--replace", `${A}=${B}`]);
    expect(dry.code, dry.stderr).toBe(0);
    const { references } = JSON.parse(dry.stdout);
    expect(references.rewritten).toBe(0);
    expect(references.toRewrite).toBe(0);
    // Expected: every occurrence grep finds, except the interpreter and RUNPATH (the dynamic fields).
    const expected: { path: string; offset: number; old: string; kind: string }[] = [];
    for (const f of [join(app, "bin", "where"), join(app, "bin", "x-wrapper"), join(app, "lib", "pkgconfig", "glibc.pc")]) {
      const bytes = readFileSync(f);
      for (const o of await grepOffsets(f, A)) {
        const next = bytes.subarray(o + A.length, o + A.length + 20).toString("latin1");
        // The interpreter, the RUNPATH (dynamic fields) and the near miss in the .pc file.
        if (next.startsWith("/lib/ld-linux") || next.startsWith("/lib\0") || next.startsWith("-extra")) continue;
        expected.push({ path: f, offset: o, old: A, kind: "bytes" });
      }
    }
    expected.push({ path: join(app, "lib", "libc.so.6"), offset: 0, old: A, kind: "symlink" });
    expect(expected.filter((e) => e.path.endsWith("where"))).toHaveLength(1);
    expect(expected.filter((e) => e.path.endsWith(".pc"))).toHaveLength(2);
    const key = (e: { path: string; offset: number }) => `${e.path}@${e.offset}`;
    expect(references.remaining.map(key).sort()).toEqual(expected.map(key).sort());
    expect(references.remaining).toEqual(expect.arrayContaining(expected));

    const text = await abilink(["relink", "--dry-run", app, "--replace", `${A}=${B}`]);
    expect(text.stdout).toContain(`remaining reference: ${join(app, "bin", "x-wrapper")} at ${expected.find((e) => e.path.endsWith("x-wrapper"))!.offset}: ${A} (NEW has another length)`);
    expect(text.stdout).toMatch(/references outside the dynamic fields: 0 to rewrite, 5 remaining$/m);

    const strict = await abilink(["relink", "--in-place", "--strict", app, "--replace", `${A}=${B}`]);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/5 remaining; refused by --strict, nothing written/);
    expect(strict.stdout).toMatch(/; nothing written; [\d.]+ s$/m);
    expect(snapshot(app)).toEqual(before);

    // Without --strict the dynamic fields move, the rest is left and reported.
    const r = await abilink(["relink", "--in-place", "--json", app, "--replace", `${A}=${B}`]);
    expect(r.code, r.stderr).toBe(0);
    const done = JSON.parse(r.stdout);
    expect(done.written).toBe(PROGRAMS.length + 1);
    expect(done.references.remaining.map(key).sort()).toEqual(expected.map(key).sort());
    expect(readFileSync(join(app, "bin", "x-wrapper")).equals(Buffer.from(before["bin/x-wrapper"]!, "base64"))).toBe(true);
  }, 120_000);
});
