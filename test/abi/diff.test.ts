import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { dir } from "tmp-promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffExitStatus, diffManifests, type AbiChange } from "../../src/abi/diff.js";
import { printManifest } from "../../src/abi/format.js";
import { abiHash } from "../../src/abi/hash.js";
import { loadManifest } from "../../src/abi/load.js";
import { symbolKey, type AbiManifest } from "../../src/abi/manifest.js";
import { writeFileAtomic } from "../../src/io/atomic-write.js";
import { abilink } from "../support/cli.js";
import { hasTool } from "../support/tools.js";

const abiDir = new URL("../../testdata/abi/", import.meta.url).pathname;

interface ExpectedChange {
  kind: string;
  symbol: string | null;
  version?: string;
  compatible: boolean;
}
interface Case {
  case: string;
  exit: number;
  changes: ExpectedChange[];
  note: string;
}
const cases: Case[] = JSON.parse(readFileSync(join(abiDir, "cases.json"), "utf8"));

/** `name@@V` and `name@V` name the same symbol for matching; readelf spells it either way. */
const id = (s: string) => s.replace("@@", "@");
/** The thing a change is about, as cases.json writes it. */
function expectedSubject(c: ExpectedChange): string {
  if (c.kind === "version-added" || c.kind === "version-removed") return c.version!;
  if (c.kind === "soname-changed") return "SONAME";
  return id(c.symbol!);
}
/** alias-added names a different member of the group on each side: compare by kind only. */
const comparable = (kind: string, subject: string) => (kind === "alias-added" ? "(group)" : subject);

const tools = hasTool("gcc", "gcc") && hasTool("g++", "g++") && hasTool("clang", "clang") && hasTool("python3", "python3");

let out: string;
let cleanup: () => Promise<void>;
const manifest = (p: string): AbiManifest => loadManifest(join(out, p)).manifest;

describe.skipIf(!tools)("ABI diff and hash on library pairs built from testdata/abi", () => {
  beforeAll(async () => {
    const d = await dir({ unsafeCleanup: true });
    out = d.path;
    cleanup = d.cleanup;
    await execa("bash", [join(abiDir, "build.sh"), out]);
  }, 120_000);
  afterAll(() => cleanup?.());

  it("covers every pair the issue lists", () => {
    const names = cases.map((c) => c.case);
    for (const n of ["impl-only", "add-function", "remove-function", "object-grown", "alignment-raised", "version-moved",
      "new-default-version", "default-version-reverse", "global-to-weak", "weak-to-global", "ro-to-rw", "rw-to-ro",
      "unique", "tls-grown", "became-protected", "soname-changed", "ifunc"]) {
      expect(names).toContain(n);
    }
  });

  describe.each(cases)("$case", (c) => {
    it(`classifies as cases.json says (exit ${c.exit})`, () => {
      const changes = diffManifests(manifest(`${c.case}/old.so`), manifest(`${c.case}/new.so`));
      const got = changes.map((x: AbiChange) => `${x.kind} ${comparable(x.kind, id(x.subject))} ${x.compatible}`).sort();
      const want = c.changes.map((x) => `${x.kind} ${comparable(x.kind, expectedSubject(x))} ${x.compatible}`).sort();
      expect(got).toEqual(want);
      expect(diffExitStatus(changes)).toBe(c.exit);
    });
  });

  it("the CLI gives the same exit status, for libraries and manifests in any combination", async () => {
    for (const c of cases.filter((x) => ["impl-only", "add-function", "version-moved"].includes(x.case))) {
      const oldSo = join(out, c.case, "old.so");
      const newSo = join(out, c.case, "new.so");
      const oldAbi = join(out, c.case, "old.abi");
      writeFileAtomic(oldAbi, printManifest(loadManifest(oldSo).manifest));
      expect((await abilink(["diff", oldSo, newSo])).code).toBe(c.exit);
      expect((await abilink(["diff", oldAbi, newSo])).code).toBe(c.exit);
      const json = JSON.parse((await abilink(["diff", "--json", oldAbi, newSo])).stdout);
      expect(json.status).toBe(c.exit);
      expect(json.changes.length).toBe(c.changes.length);
    }
  });

  it("an implementation-only change keeps the hash; every listed ABI change alters it", () => {
    for (const c of cases) {
      const a = abiHash(manifest(`${c.case}/old.so`));
      const b = abiHash(manifest(`${c.case}/new.so`));
      if (c.exit === 0) expect(b, c.case).toBe(a);
      else expect(b, c.case).not.toBe(a);
    }
  });

  it("the hash is stable across gcc -O0/-O2, -g, build-ids and clang; _Alignas(64) changes it", () => {
    const expected = JSON.parse(readFileSync(join(abiDir, "stable", "expected.json"), "utf8"));
    const hashes = (expected.hash_equal as string[]).map((f) => abiHash(manifest(`stable/${f}`)));
    expect(new Set(hashes).size).toBe(1);
    expect(hashes[0]).toMatch(/^abi2-[0-9abcdfghijklmnpqrsvwxyz]{32}$/);
    expect(abiHash(manifest("stable/changed-align.so"))).not.toBe(hashes[0]);
    // diff agrees: the only reported change is the raised alignment.
    const d = diffManifests(manifest("stable/gcc-O2.so"), manifest("stable/changed-align.so"));
    expect(d.map((x) => `${x.kind} ${x.subject}`)).toContain("alignment-raised s_origin@@V1");
    expect(d.every((x) => x.kind.startsWith("alignment"))).toBe(true);
    // And the builds the hash calls equal really differ in observed alignment.
    const observed = (f: string) => manifest(`stable/${f}`).symbols.map((s) => `${symbolKey(s)}=${s.data?.align ?? ""}`).join(" ");
    expect(observed("gcc-O0.so")).not.toBe(observed("clang-O2.so"));
  });

  it("abi --stable prints one text for every build the hash calls equal (a `git diff --exit-code` gate holds); the plain text does not", async () => {
    const expected = JSON.parse(readFileSync(join(abiDir, "stable", "expected.json"), "utf8"));
    const files = (expected.hash_equal as string[]).map((f) => join(out, "stable", f));
    const stable = await Promise.all(files.map((f) => abilink(["abi", "--stable", f])));
    expect(stable.map((r) => r.code)).toEqual(files.map(() => 0));
    expect(new Set(stable.map((r) => r.stdout)).size).toBe(1);
    const plain = await Promise.all(files.map((f) => abilink(["abi", f])));
    expect(new Set(plain.map((r) => r.stdout)).size).toBeGreaterThan(1);
    // The stable text is the hashed text: hashing it gives the library's hash; stub and diff read it back.
    const text = join(out, "stable.abi");
    writeFileAtomic(text, stable[0]!.stdout + "\n");
    expect(abiHash(loadManifest(text).manifest)).toBe(abiHash(manifest("stable/gcc-O2.so")));
    expect(diffExitStatus(diffManifests(loadManifest(text).manifest, manifest("stable/clang-O0.so")))).toBe(0);
    // --stable has no hints: asking for both is a usage error.
    expect((await abilink(["abi", "--stable", "--hints", files[0]!])).code).toBe(2);
  });

  it("the manifest's alignment, size and read-only flag match an independent computation (observe-align.py)", () => {
    const observed = JSON.parse(readFileSync(join(out, "stable", "observed-align.json"), "utf8")) as Record<
      string,
      Record<string, { align: number; size: number; read_only: boolean; type: string }>
    >;
    for (const [file, symbols] of Object.entries(observed)) {
      const m = manifest(`stable/${file}`);
      for (const [key, want] of Object.entries(symbols)) {
        const s = m.symbols.find((x) => symbolKey(x) === key);
        expect(s, `${file} ${key}`).toBeDefined();
        expect({ align: s!.data!.align, size: s!.data!.size, type: s!.type }, `${file} ${key}`).toEqual({
          align: want.align,
          size: want.size,
          type: want.type,
        });
        if (want.type === "OBJECT") expect(s!.data!.readonly, `${file} ${key}`).toBe(want.read_only);
      }
    }
  });

  it("--ignore-symbol and --ignore-version leave changes out", () => {
    const a = manifest("version-moved/old.so");
    const b = manifest("version-moved/new.so");
    expect(diffManifests(a, b, { ignoreSymbols: ["foo"] }).filter((x) => x.kind.startsWith("symbol"))).toEqual([]);
    const v = diffManifests(a, b, { ignoreVersions: ["VERS_*"] });
    expect(v).toEqual([]);
  });
});
