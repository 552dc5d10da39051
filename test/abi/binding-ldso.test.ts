// diff's and compat's binding rules against ld.so itself: libraries built by gcc with
// version scripts, a program linked against OLD, run with NEW in place (LD_BIND_NOW=1).
import { join } from "node:path";
import fc from "fast-check";
import { dir } from "tmp-promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lookup } from "../../src/abi/compat.js";
import { bindOldReferences, diffExitStatus, diffManifests, DIFF_INCOMPATIBLE } from "../../src/abi/diff.js";
import { loadManifest } from "../../src/abi/load.js";
import { symbolKey } from "../../src/abi/manifest.js";
import { compatCheck, loadOrder, readLibraries } from "../../src/closure/ld-so.js";
import { buildLibrary, buildProgram, defKey, runWithLibrary, type FuncDef, type LibLayout } from "../support/versioned-lib.js";

let tmp: { path: string; cleanup: () => Promise<void> };
let serial = 0;
beforeAll(async () => {
  tmp = await dir({ unsafeCleanup: true });
});
afterAll(() => tmp.cleanup());

/** What every judge said about running a program linked against OLD with NEW. */
interface Verdicts {
  run: Awaited<ReturnType<typeof runWithLibrary>>;
  diffCompatible: boolean;
  /** Per referenced name: the key diff predicts the reference binds to (null: it does not). */
  diffBinds: Map<string, string | null>;
  compatOk: boolean;
  compatKinds: string[];
  /** Per referenced name: the key compat's lookup binds it to (null: none). */
  compatBinds: Map<string, string | null>;
}

/** The names a program linked against `old` refers to: its unversioned and default definitions. */
const linkable = (old: LibLayout) =>
  Object.entries(old.funcs)
    .filter(([, defs]) => defs.some((d) => !d.hidden))
    .map(([n]) => n);

async function judge(oldL: LibLayout, newL: LibLayout): Promise<Verdicts> {
  const at = join(tmp.path, `case-${serial++}`);
  const oldLib = await buildLibrary(join(at, "old"), oldL);
  const newLib = await buildLibrary(join(at, "new"), newL);
  const names = linkable(oldL);
  const prog = await buildProgram(at, oldLib, names);
  const run = await runWithLibrary(prog, join(at, "new"));

  const oldM = loadManifest(oldLib).manifest;
  const newM = loadManifest(newLib).manifest;
  const changes = diffManifests(oldM, newM);
  const bound = bindOldReferences(oldM, newM);
  const diffBinds = new Map<string, string | null>();
  for (const [s, n] of bound) if (names.includes(s.name) && (s.version === null || s.default)) diffBinds.set(s.name, n && symbolKey(n));

  const libs = readLibraries([newLib]);
  const report = compatCheck(prog, { libs });
  const { scope, binary } = loadOrder(prog, { libs });
  const compatBinds = new Map<string, string | null>();
  for (const ref of binary.imports.filter((i) => names.includes(i.name))) {
    const found = lookup(scope, ref);
    compatBinds.set(ref.name, found.kind === "found" ? defKey(ref.name, found.def) : null);
  }
  return {
    run,
    diffCompatible: (diffExitStatus(changes) & DIFF_INCOMPATIBLE) === 0,
    diffBinds,
    compatOk: report.ok,
    compatKinds: report.problems.map((p) => p.kind),
    compatBinds,
  };
}

/** The verdicts agree with what ld.so did, and both tools predict the definition each call reached. */
function expectAgreement(v: Verdicts, label: string): void {
  const said = `${label}\nld.so: exit ${v.run.exitCode} ${JSON.stringify(v.run.stderr)}`;
  // diff: compatible exactly when the program ran and the loader said nothing.
  expect(v.diffCompatible, said).toBe(v.run.clean);
  // compat: ok exactly when the program ran; a loader warning is a compat warning.
  expect(v.compatOk, said).toBe(v.run.exitCode === 0);
  expect(v.compatKinds.includes("no-version-information"), said).toBe(/no version information available/.test(v.run.stderr));
  if (v.run.exitCode === 0) {
    for (const [name, key] of v.run.bound) {
      expect(v.compatBinds.get(name), `${said}\ncompat's binding of ${name}`).toBe(key);
      if (v.run.clean) expect(v.diffBinds.get(name), `${said}\ndiff's binding of ${name}`).toBe(key);
    }
  }
}

const f = (version: string | null, hidden = false): FuncDef => ({ version, hidden });
const lib = (versions: string[], funcs: Record<string, FuncDef[]>, usesLibc = true): LibLayout => ({ versions, funcs, usesLibc });

describe("binding against ld.so, by hand", () => {
  // OLD: the program's references; NEW: the library it meets. Each row runs under ld.so.
  const unversioned = lib([], { abt_foo: [f(null)], abt_bar: [f(null)] });
  const versioned = lib(["V1"], { abt_foo: [f("V1")], abt_bar: [f("V1")] });
  const cases: [string, LibLayout, LibLayout][] = [
    ["a version script added (the issue's case)", unversioned, lib(["PT_1"], { abt_foo: [f("PT_1")], abt_bar: [f("PT_1")] })],
    ["the version script dropped, with a version table", versioned, lib([], { abt_foo: [f(null)], abt_bar: [f(null)] }, true)],
    ["the version script dropped, no version table at all", versioned, lib([], { abt_foo: [f(null)], abt_bar: [f(null)] }, false)],
    ["unversioned reference, hidden definition of the first version", unversioned, lib(["V1"], { abt_foo: [f("V1", true)], abt_bar: [f("V1")] })],
    ["unversioned reference, hidden definition of a later version", unversioned, lib(["V0", "V1"], { abt_foo: [f("V1", true)], abt_bar: [f("V0")] })],
    ["unversioned reference, one default of a later version", unversioned, lib(["V0", "V2"], { abt_foo: [f("V2")], abt_bar: [f("V0")] })],
    ["unversioned reference, hidden first and default later", unversioned, lib(["V1", "V2"], { abt_foo: [f("V1", true), f("V2")], abt_bar: [f("V1")] })],
    ["versioned reference, the name kept outside the script", versioned, lib(["V1"], { abt_foo: [f(null)], abt_bar: [f("V1")] })],
    ["versioned reference, the version made hidden beside a new default", versioned, lib(["V1", "V2"], { abt_foo: [f("V1", true), f("V2")], abt_bar: [f("V1")] })],
    ["versioned reference, the symbol moved to another version", versioned, lib(["V1", "V2"], { abt_foo: [f("V2")], abt_bar: [f("V1")] })],
    ["versioned reference, the version removed", versioned, lib(["V2"], { abt_foo: [f("V2")], abt_bar: [f("V2")] })],
  ];
  for (const [label, oldL, newL] of cases) {
    it(label, async () => expectAgreement(await judge(oldL, newL), label), 60_000);
  }

  it("the issue's case: diff calls adding a version script compatible, and the old program runs clean", async () => {
    const v = await judge(unversioned, lib(["PT_1"], { abt_foo: [f("PT_1")], abt_bar: [f("PT_1")] }));
    expect(v.run.clean).toBe(true);
    expect(v.diffCompatible).toBe(true);
    expect(v.compatOk).toBe(true);
    expect([...v.run.bound.values()].sort()).toEqual(["abt_bar@@PT_1", "abt_foo@@PT_1"]);
  }, 60_000);
});

/** Random layouts: OLD has no hidden definitions and no unused versions (a program can refer to all of it). */
const NAMES = ["abt_a", "abt_b", "abt_c", "abt_d"];
const VERSIONS = ["V1", "V2", "V3"];

const newLayout = fc
  .record({
    versions: fc.shuffledSubarray(VERSIONS),
    picks: fc.array(fc.tuple(fc.nat(9), fc.array(fc.nat(2), { minLength: 3, maxLength: 3 })), { minLength: NAMES.length, maxLength: NAMES.length }),
    usesLibc: fc.boolean(),
  })
  .map(({ versions, picks, usesLibc }): LibLayout => {
    const funcs: Record<string, FuncDef[]> = {};
    NAMES.forEach((name, i) => {
      const [shape, perVersion] = picks[i]!;
      if (shape === 0) return; // absent
      if (versions.length === 0 || shape === 1) {
        funcs[name] = [f(null)];
        return;
      }
      // Per version: 0 none, 1 hidden, 2 default; at most one default per name.
      const defs: FuncDef[] = [];
      let defaulted = false;
      versions.forEach((v, k) => {
        const p = perVersion[k]!;
        if (p === 1) defs.push(f(v, true));
        if (p === 2 && !defaulted) {
          defs.push(f(v));
          defaulted = true;
        }
      });
      if (defs.length > 0) funcs[name] = defs;
    });
    return { versions, funcs, usesLibc };
  });

const oldLayout = fc
  .record({
    versions: fc.shuffledSubarray(VERSIONS),
    picks: fc.array(fc.nat(4), { minLength: NAMES.length, maxLength: NAMES.length }),
  })
  .map(({ versions, picks }): LibLayout => {
    const funcs: Record<string, FuncDef[]> = {};
    NAMES.forEach((name, i) => {
      const p = picks[i]!;
      if (p === 0) return;
      funcs[name] = [versions.length === 0 || p === 1 ? f(null) : f(versions[(p - 2) % versions.length]!)];
    });
    const used = versions.filter((v) => Object.values(funcs).some((d) => d[0]!.version === v));
    return { versions: used, funcs, usesLibc: true };
  })
  .filter((l) => Object.keys(l.funcs).length > 0);

describe("binding against ld.so, random version layouts", () => {
  it("diff's and compat's verdicts and bindings are ld.so's", async () => {
    await fc.assert(
      fc.asyncProperty(oldLayout, newLayout, async (oldL, newL) => {
        expectAgreement(await judge(oldL, newL), `OLD ${JSON.stringify(oldL)}\nNEW ${JSON.stringify(newL)}`);
      }),
      { numRuns: Number(process.env.ABILINK_LDSO_RUNS ?? 150) },
    );
  }, 600_000);
});

describe("a hidden name@V in OLD is still referred to, by binaries linked when it was the default", () => {
  // OLDER: abt_foo@@V1. OLD: abt_foo@V1 (hidden) beside abt_foo@@V2. A program linked against
  // OLDER runs on OLD; diff(OLD, NEW) must say whether it still runs on NEW.
  const older = lib(["V1"], { abt_foo: [f("V1")], abt_keep: [f("V1")] });
  const old = lib(["V1", "V2"], { abt_foo: [f("V1", true), f("V2")], abt_keep: [f("V1")] });
  const news: [string, LibLayout][] = [
    ["NEW keeps the hidden definition", lib(["V1", "V2"], { abt_foo: [f("V1", true), f("V2")], abt_keep: [f("V1")] })],
    ["NEW drops the hidden definition", lib(["V1", "V2"], { abt_foo: [f("V2")], abt_keep: [f("V1")] })],
    ["NEW keeps the name outside its script", lib(["V1", "V2"], { abt_foo: [f(null)], abt_keep: [f("V1")] })],
  ];
  for (const [label, newL] of news) {
    it(label, async () => {
      const at = join(tmp.path, `older-${serial++}`);
      const olderLib = await buildLibrary(join(at, "older"), older);
      const oldLib = await buildLibrary(join(at, "old"), old);
      const newLib = await buildLibrary(join(at, "new"), newL);
      const prog = await buildProgram(at, olderLib, ["abt_foo", "abt_keep"]);
      const onOld = await runWithLibrary(prog, join(at, "old"));
      expect(onOld.clean).toBe(true);
      expect(onOld.bound.get("abt_foo")).toBe("abt_foo@V1");
      const onNew = await runWithLibrary(prog, join(at, "new"));
      const changes = diffManifests(loadManifest(oldLib).manifest, loadManifest(newLib).manifest);
      expect((diffExitStatus(changes) & DIFF_INCOMPATIBLE) === 0, `${label}: ${JSON.stringify(changes)}\n${onNew.stderr}`).toBe(onNew.clean);
      expect(compatCheck(prog, { libs: readLibraries([newLib]) }).ok).toBe(onNew.exitCode === 0);
    }, 60_000);
  }
});
