// One JSON convention for every command: JSON Lines (one object per line) for per-file
// results, one line for a single result, and the same field names and value spellings.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const libs = [fx("x86_64/libvers.so.1"), fx("s390x/libvers.so.1")];
const progs = [fx("x86_64/prog"), fx("aarch64/prog")];

/** Every line of stdout parsed; fails on a line that is not one JSON object. */
function lines(stdout: string): Record<string, unknown>[] {
  const out = stdout.split("\n");
  expect(out.at(-1), "output ends with a newline, nothing after it").not.toBe(undefined);
  return out.filter((l, i) => i < out.length - 1 || l !== "").map((l) => {
    const v = JSON.parse(l) as unknown;
    expect(typeof v === "object" && v !== null && !Array.isArray(v), l).toBe(true);
    return v as Record<string, unknown>;
  });
}

/** Keys anywhere in a JSON value. */
function keys(v: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(v)) for (const x of v) keys(x, into);
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) (into.add(k), keys(x, into));
  return into;
}

describe("--json: JSON Lines everywhere", () => {
  const perFile: [string, string[], string[]][] = [
    ["inspect", ["inspect", "--json"], progs],
    ["scan", ["scan", "--json"], progs],
    ["hash", ["hash", "--json"], libs],
    ["compat", ["compat", "--json"], [fx("x86_64/prog"), fx("x86_64/prog")]],
    ["patch", ["patch", "--dry-run", "--json", "--add-runpath", "/opt/x"], progs],
  ];
  for (const [name, args, inputs] of perFile) {
    it(`${name}: one line per input, with its path, for one input and for several`, async () => {
      for (const n of [1, 2]) {
        const r = await abilink([...args, ...inputs.slice(0, n)]);
        expect(r.code, r.stderr).toBe(0);
        const records = lines(r.stdout);
        expect(records.map((x) => x.path)).toEqual(inputs.slice(0, n));
      }
    });
  }

  it("stub: one line per output, with its input as path; a refused input has none", async () => {
    const dir = mkdtempSync(join(tmpdir(), "json-stub-"));
    try {
      const one = await abilink(["stub", "--json", libs[0]!, "--out-dir", dir]);
      expect(one.code, one.stderr).toBe(0);
      expect(lines(one.stdout).map((x) => [x.path, x.output, x.kind])).toEqual([[libs[0], `${dir}/libvers.so.1`, "stub"]]);
      // The s390x library has the same SONAME and another interface: refused, on stderr only.
      const two = await abilink(["stub", "--json", libs[0]!, libs[1]!, "--out-dir", dir]);
      expect(two.code).toBe(1);
      expect(lines(two.stdout).map((x) => x.path)).toEqual([libs[0]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("abi and diff: one line for their one result", async () => {
    for (const args of [["abi", "--json", libs[0]!], ["abi", "--stable", "--json", libs[1]!], ["diff", "--json", libs[0]!, libs[1]!]]) {
      const r = await abilink(args);
      expect(r.stdout.split("\n").filter((l) => l !== "")).toHaveLength(1);
      expect(lines(r.stdout)).toHaveLength(1);
    }
  });

  it("one spelling for the file facts: endian, machine and osabi by name, e_flags a number", async () => {
    const inspect = lines((await abilink(["inspect", "--json", libs[1]!])).stdout)[0]!;
    const scan = lines((await abilink(["scan", "--json", libs[1]!])).stdout)[0]!;
    const abi = lines((await abilink(["abi", "--json", libs[1]!])).stdout)[0]!;
    for (const rec of [inspect, scan, abi]) {
      expect({ class: rec.class, endian: rec.endian, machine: rec.machine, osabi: rec.osabi, e_flags: rec.e_flags }).toEqual({
        class: 64,
        endian: "big",
        machine: "s390x",
        osabi: "SYSV",
        e_flags: 0,
      });
      expect(rec.soname).toBe("libvers.so.1");
    }
    // No raw-number spellings of the same facts anywhere.
    for (const rec of [inspect, scan, abi]) for (const k of ["e_machine", "ei_osabi", "data"]) expect(keys(rec).has(k), k).toBe(false);
    // A symbol reads the same in inspect and abi.
    const fromInspect = (inspect.defined as Record<string, unknown>[]).find((s) => s.name === "vers_counter")!;
    const fromAbi = (abi.symbols as Record<string, unknown>[]).find((s) => s.name === "vers_counter")!;
    for (const k of ["name", "version", "default", "type", "bind", "visibility", "size"]) expect(fromAbi[k], k).toEqual(fromInspect[k]);
  });
});
