import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { dir } from "tmp-promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";
import { systemLib } from "../support/tools.js";

let tmp: string;
let cleanup: () => Promise<void>;
let oldAbi: string;
let newAbi: string;
beforeAll(async () => {
  const d = await dir({ unsafeCleanup: true });
  tmp = d.path;
  cleanup = d.cleanup;
  // zlib's interface with inflateBack, inflateBackEnd, inflateBackInit_ (ZLIB_1.2.0) and deflateCopy removed.
  const text = (await abilink(["abi", systemLib("libz.so.1")])).stdout + "\n";
  oldAbi = join(tmp, "old.abi");
  newAbi = join(tmp, "new.abi");
  writeFileSync(oldAbi, text);
  const kept = text.split("\n").filter((l) => !/^symbol (inflateBack|deflateCopy )/.test(l));
  expect(text.split("\n").length - kept.length).toBe(4);
  writeFileSync(newAbi, kept.join("\n"));
});
afterAll(() => cleanup());

describe("abilink diff --ignore-symbol / --ignore-version", () => {
  it("says how many changes the filters left out, in text and in --json", async () => {
    const all = await abilink(["diff", "--ignore-symbol", "inflateBack*", "--ignore-symbol", "deflateCopy", oldAbi, newAbi]);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe(`${oldAbi} -> ${newAbi}: no ABI change (4 changes ignored)`);
    const json = JSON.parse((await abilink(["diff", "--json", "--ignore-symbol", "inflateBack*", "--ignore-symbol", "deflateCopy", oldAbi, newAbi])).stdout);
    expect(json).toMatchObject({ status: 0, ignored: 4, changes: [] });

    for (const filter of [["--ignore-symbol", "inflateBack*"], ["--ignore-version", "ZLIB_1.2.0"]]) {
      const some = await abilink(["diff", ...filter, oldAbi, newAbi]);
      expect(some.code).toBe(12);
      expect(some.stdout.split("\n")).toEqual([
        `${oldAbi} -> ${newAbi}: 1 change, 1 incompatible (3 ignored)`,
        "  INCOMPATIBLE  symbol-removed           deflateCopy",
      ]);
    }
    const unfiltered = JSON.parse((await abilink(["diff", "--json", oldAbi, newAbi])).stdout);
    expect(unfiltered.ignored).toBe(0);
    expect(unfiltered.changes).toHaveLength(4);
  });

  it("a filter that matches nothing changed ignores nothing", async () => {
    const r = await abilink(["diff", "--ignore-symbol", "zz*", oldAbi, oldAbi]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${oldAbi} -> ${oldAbi}: no ABI change`);
  });
});
