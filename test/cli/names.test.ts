// File names are bytes: names that are not UTF-8, names with control characters and very
// long names go through every command intact; text output escapes what a terminal would
// act on, and JSON carries raw bytes as "\udcNN" (README, "File names").
import { execa } from "execa";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fsPath, pathFromBytes, pathToBytes } from "../../src/io/paths.js";
import { abilink, bin } from "../support/cli.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "aln-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
/** Runs abilink through bash, so that arguments can hold any bytes ($'\xff'). */
const viaBash = (script: string) => execa("bash", ["-c", script, bin], { reject: false, encoding: "buffer" });

describe("names that are not UTF-8", () => {
  const dir = join(work, "raw");
  const nameBytes = Buffer.concat([Buffer.from(`${dir}/prog`), Buffer.from([0xff, 0xfe]), Buffer.from("x")]);
  const name = pathFromBytes(nameBytes);

  it("keep their bytes through inspect, scan and patch; JSON gives \\udcNN, text \\xNN", async () => {
    (await import("node:fs")).mkdirSync(dir);
    copyFileSync(fx("x86_64/prog"), nameBytes);
    expect(name).toBe(`${dir}/prog\udcff\udcfex`);
    const inspect = await viaBash(`node "$0" inspect --json "${dir}/prog"$'\\xff\\xfe'x`);
    expect(inspect.exitCode).toBe(0);
    expect(JSON.parse(Buffer.from(inspect.stdout).toString("utf8")).path).toBe(name);
    const scanJson = await abilink(["scan", "--json", dir]);
    expect(scanJson.code).toBe(0);
    expect(JSON.parse(scanJson.stdout).path).toBe(name);
    const scanText = await abilink(["scan", dir]);
    expect(scanText.stdout).toContain(`${dir}/prog\\xff\\xfex ELF64`);
    const patch = await viaBash(`node "$0" patch --add-runpath /opt/raw "${dir}/prog"$'\\xff\\xfe'x`);
    expect(Buffer.from(patch.stderr).toString()).toBe("");
    expect(patch.exitCode).toBe(0);
    // The patched file is still there under its own name, and nothing else is in the directory.
    expect(readdirSync(dir, { encoding: "buffer" }).map((b) => b.toString("hex"))).toEqual([Buffer.from(nameBytes.subarray(dir.length + 1)).toString("hex")]);
    const again = await viaBash(`node "$0" inspect --json "${dir}/prog"$'\\xff\\xfe'x`);
    expect(JSON.parse(Buffer.from(again.stdout).toString("utf8")).runpath).toEqual(["$ORIGIN", "/opt/raw"]);
  });

  it("the byte-faithful strings round-trip every byte sequence", () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + (i % 17) }, (_, k) => (i * 31 + k * 97) % 256).filter((b) => b !== 0));
      expect(pathToBytes(pathFromBytes(bytes)).equals(bytes)).toBe(true);
    }
    expect(fsPath("plain")).toBe("plain");
    expect(pathFromBytes(Buffer.from("é✓𝄞"))).toBe("é✓𝄞");
  });
});

describe("control characters in names and in ELF strings", () => {
  it("a newline or an escape sequence never reaches the terminal raw, and one record stays one line", async () => {
    const dir = join(work, "ctl");
    (await import("node:fs")).mkdirSync(dir);
    for (const n of ["a\nb", "\x1b[31mred", "tab\there"]) copyFileSync(fx("x86_64/prog"), join(dir, n));
    const scan = await abilink(["scan", dir]);
    expect(scan.code).toBe(0);
    const lines = scan.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(scan.stdout).not.toMatch(/\x1b/);
    expect(lines.map((l) => l.slice(dir.length + 1).split(" ")[0])).toEqual(["\\e[31mred", "a\\nb", "tab\\there"]);
    // An ELF string: a SONAME holding an escape sequence.
    const lib = join(dir, "lib");
    copyFileSync(fx("x86_64/libvers.so.1"), lib);
    expect((await abilink(["patch", "--set-soname", "lib\x1b[2Jx.so", lib])).code).toBe(0);
    const inspect = await abilink(["inspect", lib]);
    expect(inspect.stdout).toContain("soname       lib\\e[2Jx.so");
    expect(inspect.stdout).not.toMatch(/\x1b/);
    const json = await abilink(["inspect", "--json", lib]);
    expect(JSON.parse(json.stdout).soname).toBe("lib\x1b[2Jx.so");
  });
});

describe("long names", () => {
  it("a 250-byte base name is patched atomically (the temporary name stays short)", async () => {
    const f = join(work, "n".repeat(250));
    copyFileSync(fx("x86_64/prog"), f);
    const r = await abilink(["patch", "--add-runpath", "/opt/long", f]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse((await abilink(["inspect", "--json", f])).stdout).runpath).toEqual(["$ORIGIN", "/opt/long"]);
  });
});

describe("a dynamic table with ten million entries (160 MB)", () => {
  it("is refused as malformed, reading a bounded part of it", async () => {
    // The x86_64 fixture, with PT_DYNAMIC pointed at a table appended to the file: its own
    // entries, then 10 million DT_DEBUG entries, then DT_NULL.
    const src = (await import("node:fs")).readFileSync(fx("x86_64/prog"));
    const { ElfFile, BufferSource } = await import("../../src/elf/index.js");
    const elf = ElfFile.parse(new BufferSource(new Uint8Array(src)));
    const dynIndex = elf.programHeaders.findIndex((p) => p.p_type === 2);
    const own = elf.dynamic!.entries;
    const count = own.length + 10_000_000;
    const table = Buffer.alloc((count + 1) * 16);
    own.forEach((e, i) => {
      table.writeBigInt64LE(e.d_tag, i * 16);
      table.writeBigUInt64LE(e.d_val, i * 16 + 8);
    });
    for (let i = own.length; i < count; i++) table.writeBigInt64LE(21n, i * 16);
    const at = Math.ceil(src.length / 16) * 16;
    const out = Buffer.alloc(at + table.length);
    src.copy(out);
    table.copy(out, at);
    const ph = Number(elf.header.e_phoff) + dynIndex * 56;
    out.writeBigUInt64LE(BigInt(at), ph + 8);
    out.writeBigUInt64LE(BigInt(table.length), ph + 32);
    const f = join(work, "hugedyn");
    writeFileSync(f, out);
    for (const args of [["patch", "--set-runpath", "/opt/x", f], ["inspect", f]]) {
      const r = await execa("/usr/bin/time", ["-f", "%M", "node", bin, ...args], { reject: false });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/more than 65536 entries before DT_NULL/);
      // Peak RSS (KiB, GNU time's last line): far below the table's 160 MB.
      expect(Number(r.stderr.trim().split("\n").at(-1))).toBeLessThan(150 * 1024);
    }
  }, 60_000);
});
