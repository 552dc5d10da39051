import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { dir } from "tmp-promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lookup, type CompatObject } from "../../src/abi/compat.js";
import { MUSL_DEFAULT_PATH, compatCheck, loadOrder, muslLibraryPath, readLibraries } from "../../src/closure/ld-so.js";
import { walkFiles } from "../../src/closure/walk.js";
import { summarizeIfElf } from "../../src/inspect/inspect.js";
import { abilink } from "../support/cli.js";
import { hasFiles, hasTool } from "../support/tools.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const src = (p: string) => new URL(`../../testdata/compat/${p}`, import.meta.url).pathname;

let tmp: { path: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await dir({ unsafeCleanup: true });
});
afterAll(() => tmp.cleanup());

describe("compat against the committed fixtures", () => {
  it("prog finds libvers.so.1 through RUNPATH $ORIGIN and everything resolves", () => {
    const r = compatCheck(fx("x86_64/prog"));
    expect(r.ok).toBe(true);
    expect(r.loaded[1]).toEqual({ name: "libvers.so.1", path: fx("x86_64/libvers.so.1") });
    expect(r.problems.filter((p) => p.severity === "error")).toEqual([]);
    // The weak references gcc leaves in every object are left out, unless asked for (-v):
    // then they are warnings, not errors, for the program and each library it loads.
    expect(r.problems).toEqual([]);
    const verbose = compatCheck(fx("x86_64/prog"), { verbose: true });
    expect(verbose.ok).toBe(true);
    const gmon = verbose.problems.filter((p) => p.subject === "__gmon_start__");
    expect(gmon.map((p) => p.severity)).toEqual(gmon.map(() => "warning"));
    expect(gmon.map((p) => p.object)).toContain(fx("x86_64/prog"));
  });

  it.skipIf(!hasFiles(["/lib/ld-musl-x86_64.so.1"], "musl"))("musl programs are checked by name only, and the report says so", () => {
    const r = compatCheck(fx("x86_64-musl/prog"));
    expect(r.notes.join()).toMatch(/musl's loader ignores symbol versions/);
    expect(r.ok).toBe(true);
  });

  it("a musl program whose loader is missing: the report says where musl would have looked", async () => {
    const at = join(tmp.path, "musl");
    mkdirSync(at);
    const copy = join(at, "prog");
    copyFileSync(fx("x86_64-musl/prog"), copy);
    copyFileSync(fx("x86_64-musl/libvers.so.1"), join(at, "libvers.so.1"));
    // An ARCH with no path file on any machine, so the built-in default applies.
    const loader = "/nonexistent-abilink/ld-musl-abilinktest.so.1";
    expect((await abilink(["patch", "--set-interpreter", loader, copy])).code).toBe(0);
    const r = compatCheck(copy);
    expect(r.ok).toBe(false);
    const missing = r.problems.filter((p) => p.kind === "library-not-found");
    expect(missing.map((p) => p.subject)).toEqual(["libc.so"]);
    const { dirs, source } = muslLibraryPath(loader);
    expect(missing[0]!.detail).toBe(
      `NEEDED libc.so was not found: musl's loader ${loader}, which is its libc.so, does not exist; ` +
        `not in the RPATH/RUNPATH directories ${at}, not in ${dirs.join(", ")} (${source})`,
    );
    // The glibc directories (/etc/ld.so.conf, multiarch) are not musl's.
    expect(missing[0]!.detail).not.toMatch(/x86_64-linux-gnu/);
  });

  it("musl's path: /etc/ld-musl-ARCH.path (newlines or colons) when it exists, else the built-in default", () => {
    const etc = join(tmp.path, "etc");
    mkdirSync(etc, { recursive: true });
    expect(muslLibraryPath("/lib/ld-musl-aarch64.so.1", etc)).toEqual({
      dirs: MUSL_DEFAULT_PATH,
      source: `musl's built-in default, as ${etc}/ld-musl-aarch64.path does not exist`,
    });
    expect(MUSL_DEFAULT_PATH).toEqual(["/lib", "/usr/local/lib", "/usr/lib"]);
    writeFileSync(join(etc, "ld-musl-aarch64.path"), "/opt/musl/lib\n/usr/lib/musl:/lib\n\n");
    expect(muslLibraryPath("/lib/ld-musl-aarch64.so.1", etc)).toEqual({
      dirs: ["/opt/musl/lib", "/usr/lib/musl", "/lib"],
      source: `${etc}/ld-musl-aarch64.path`,
    });
    // An empty path file means no default directory at all, as in musl.
    writeFileSync(join(etc, "ld-musl-aarch64.path"), "");
    expect(muslLibraryPath("/lib/ld-musl-aarch64.so.1", etc).dirs).toEqual([]);
  });

  it("a library missing from every search path is reported", () => {
    const lonely = join(tmp.path, "prog");
    copyFileSync(fx("x86_64/prog"), lonely);
    const r = compatCheck(lonely);
    expect(r.ok).toBe(false);
    const missing = r.problems.find((p) => p.kind === "library-not-found");
    expect(missing?.subject).toBe("libvers.so.1");
    expect(missing?.detail).toMatch(new RegExp(`^NEEDED libvers\\.so\\.1 was not found: not in the RPATH/RUNPATH directories ${tmp.path}, not in .*/usr/lib/x86_64-linux-gnu.* \\(/etc/ld\\.so\\.conf and the system's directories\\)$`));
  });
});

describe.skipIf(!hasTool("gcc", "gcc"))("compat against a broken rebuild of libvers (testdata/compat)", () => {
  let broken: string;
  beforeAll(async () => {
    broken = join(tmp.path, "libvers.so.1");
    await execa("gcc", [
      "-shared", "-fPIC", "-O2", "-Wl,-soname,libvers.so.1",
      `-Wl,--version-script=${src("libvers-broken.map")}`, "-o", broken, src("libvers-broken.c"),
    ]);
  });

  it("reports each break the source introduces, and nothing else", () => {
    const r = compatCheck(fx("x86_64/prog"), { libs: readLibraries([broken]) });
    expect(r.ok).toBe(false);
    const errors = r.problems.filter((p) => p.severity === "error").map((p) => `${p.kind} ${p.subject}`);
    expect(errors.sort()).toEqual([
      "copy-grown vers_counter@VERS_1.0",
      "copy-more-aligned vers_table@VERS_1.0",
      "symbol-missing vers_compute@VERS_2.0",
      "symbol-missing vers_tls_get@VERS_2.0",
      "type-mismatch vers_hello@VERS_1.0",
      "version-missing VERS_2.0",
    ]);
  });

  it("the CLI exits 12 for a broken requirement and 0 when all hold", async () => {
    const bad = await abilink(["compat", fx("x86_64/prog"), "--lib", broken]);
    expect(bad.code).toBe(12);
    expect(bad.stdout).toMatch(/copy-grown\s+vers_counter@VERS_1\.0: the copy holds 16 bytes, .* now defines 32/);
    const good = await abilink(["compat", fx("x86_64/prog"), "--lib", fx("x86_64/libvers.so.1")]);
    expect(good.code).toBe(0);
    const json = JSON.parse((await abilink(["compat", "--json", fx("x86_64/prog"), "--lib", broken])).stdout);
    expect(json.ok).toBe(false);
    expect(json.problems.some((p: { kind: string }) => p.kind === "version-missing")).toBe(true);
  });
});

/** Dynamically linked x86_64 programs of this system. */
function systemPrograms(): string[] {
  const out: string[] = [];
  for (const p of walkFiles(["/usr/bin", "/usr/sbin"], { onError: () => {} })) {
    try {
      const r = summarizeIfElf(p);
      if (r && r.interpreter && r.machine === "x86_64") out.push(p);
    } catch {
      // not ours to judge here
    }
  }
  return out;
}

describe("compat of the system's own programs against the system's own libraries", () => {
  const programs = systemPrograms();
  const cache = new Map<string, CompatObject | null>();

  it("passes for every program", () => {
    expect(programs.length).toBeGreaterThan(100);
    const failing = programs
      .map((p) => compatCheck(p, { cache }))
      .filter((r) => !r.ok)
      .map((r) => `${r.path}: ${r.problems.filter((p) => p.severity === "error").map((p) => `${p.kind} ${p.subject}`).join(", ")}`);
    expect(failing).toEqual([]);
  }, 300_000);

  it("pthread_* imported through libpthread.so.0's version node resolve in libc.so.6 (glibc >= 2.34)", () => {
    const users = programs.filter((p) =>
      loadOrder(p, { cache }).binary.imports.some((i) => i.name.startsWith("pthread_") && i.library === "libpthread.so.0"),
    );
    expect(users.length).toBeGreaterThan(0);
    for (const p of users) {
      const { binary, scope } = loadOrder(p, { cache });
      const pthreadLib = scope.find((o) => o.soname === "libpthread.so.0")!;
      expect(pthreadLib).toBeDefined();
      for (const ref of binary.imports.filter((i) => i.name.startsWith("pthread_") && i.library === "libpthread.so.0")) {
        const found = lookup(scope, ref);
        expect(found.kind, `${p}: ${ref.name}@${ref.version}`).toBe("found");
        // libpthread.so.0 defines the version node but (mostly) not the functions any more.
        if (!pthreadLib.exports.has(ref.name) && found.kind === "found") expect(found.object.soname).toBe("libc.so.6");
      }
      expect(compatCheck(p, { cache }).ok).toBe(true);
    }
  });
});
