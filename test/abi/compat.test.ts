import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { dir } from "tmp-promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lookup, type CompatObject } from "../../src/abi/compat.js";
import { compatCheck, loadOrder } from "../../src/closure/ld-so.js";
import { walkFiles } from "../../src/closure/walk.js";
import { summarizeIfElf } from "../../src/inspect/inspect.js";
import { abilink } from "../support/cli.js";
import { hasTool } from "../support/tools.js";

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
    // Unresolved weak references are warnings, not errors.
    expect(r.problems.map((p) => p.subject)).toContain("__gmon_start__");
  });

  it("musl programs are checked by name only, and the report says so", () => {
    const r = compatCheck(fx("x86_64-musl/prog"));
    expect(r.notes.join()).toMatch(/musl's loader ignores symbol versions/);
    expect(r.ok).toBe(true);
  });

  it("a library missing from every search path is reported", () => {
    const lonely = join(tmp.path, "prog");
    copyFileSync(fx("x86_64/prog"), lonely);
    const r = compatCheck(lonely);
    expect(r.ok).toBe(false);
    expect(r.problems.find((p) => p.kind === "library-not-found")?.subject).toBe("libvers.so.1");
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
    const r = compatCheck(fx("x86_64/prog"), { libs: [broken] });
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
    expect(bad.stdout).toMatch(/copy-grown\s+vers_counter@VERS_1\.0: the executable holds 16 bytes, .* now defines 32/);
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
      .map((r) => `${r.binary}: ${r.problems.filter((p) => p.severity === "error").map((p) => `${p.kind} ${p.subject}`).join(", ")}`);
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
        const found = lookup(scope, ref, { skip: binary });
        expect(found, `${p}: ${ref.name}@${ref.version}`).not.toBeNull();
        // libpthread.so.0 defines the version node but (mostly) not the functions any more.
        if (!pthreadLib.exports.has(ref.name)) expect(found!.object.soname).toBe("libc.so.6");
      }
      expect(compatCheck(p, { cache }).ok).toBe(true);
    }
  });
});
