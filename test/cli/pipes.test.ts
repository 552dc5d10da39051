// Libraries and manifests given as pipes, FIFOs and standard input (`-`) to abi, hash and
// diff: `abilink diff <(git show HEAD:lib.abi) build/lib.so` and `cat lib.so | abilink hash -`.
import { execa } from "execa";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { abilink, bin } from "../support/cli.js";
import { systemLib } from "../support/tools.js";
import { withTmpDir } from "../support/tmp.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const libz = systemLib("libz.so.1");
// Over 1 MiB: read from a pipe in more than one piece.
const libc = systemLib("libc.so.6");

let tmp = "";
withTmpDir((path) => (tmp = path));

/** Runs `script` in bash with the CLI as $A and `args` as $1, $2…: pipes as a shell makes them. */
async function sh(script: string, ...args: string[]) {
  const r = await execa("bash", ["-c", `A() { node "${bin}" "$@"; }\n${script}`, "bash", ...args], { reject: false, stdin: "ignore" });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

const hashOf = async (path: string) => (await abilink(["hash", path])).stdout.split("  ")[0]!;

describe("pipes, FIFOs and standard input", () => {
  it("hash of a library or a manifest through a pipe equals the hash of the file", async () => {
    const abiFile = join(tmp, "libc.abi");
    expect((await abilink(["abi", libc, "-o", abiFile])).code).toBe(0);
    for (const file of [libz, libc, abiFile, fx("ppc64/libvers.so.1")]) {
      const r = await sh(`cat "$1" | A hash -`, file);
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe(`${await hashOf(file)}  -`);
    }
    const sub = await sh(`A hash <(cat "$1") "$1"`, libc);
    expect(sub.code).toBe(0);
    const [fromPipe, fromFile] = sub.stdout.split("\n").map((l) => l.split("  "));
    expect(fromPipe![1]).toMatch(/^\/dev\/fd\/\d+$/);
    expect(fromPipe![0]).toBe(fromFile![0]);
    // After the inputs hashed before worker threads start: a worker may be the one to read it.
    const many = Array.from({ length: 12 }, () => fx("x86_64/libvers.so.1"));
    const late = await sh(`cat "$1" | A hash --jobs 2 "\${@:2}" -`, libc, ...many);
    expect(late.code).toBe(0);
    expect(late.stdout.split("\n").at(-1)).toBe(`${fromFile![0]}  -`);
  });

  it("diff reads OLD from process substitution or standard input", async () => {
    const abiFile = join(tmp, "libz.abi");
    expect((await abilink(["abi", libz, "-o", abiFile])).code).toBe(0);
    const sub = await sh(`A diff <(cat "$1") "$2"`, abiFile, libz);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toMatch(/^\/dev\/fd\/\d+ -> .*libz\.so\.1: no ABI change$/);
    const redirected = await sh(`A diff - "$2" < "$1"`, abiFile, libz);
    expect(redirected.code).toBe(0);
    expect(redirected.stdout).toBe(`- -> ${libz}: no ABI change`);
    // A library on standard input against another library: the changes, as from files.
    const piped = await sh(`cat "$1" | A diff --json - "$2"`, fx("x86_64/libvers.so.1"), libz);
    const direct = await abilink(["diff", "--json", fx("x86_64/libvers.so.1"), libz]);
    expect(piped.code).toBe(12);
    expect(JSON.parse(piped.stdout).changes).toEqual(JSON.parse(direct.stdout).changes);
  });

  it("abi reads a FIFO (waiting for its writer) and writes to standard output with -o -", async () => {
    const fifo = join(tmp, "fifo");
    await execa("mkfifo", [fifo]);
    const r = await sh(`(sleep 0.2; cat "$2" > "$1") & A abi "$1" -o -; wait`, fifo, libz);
    expect(r.code).toBe(0);
    expect(r.stdout + "\n").toBe((await abilink(["abi", libz])).stdout + "\n");
    const manifest = await sh(`cat "$2" > "$1" & A hash "$1"; wait`, fifo, join(tmp, "libz.abi"));
    expect(manifest.stdout).toBe(`${await hashOf(libz)}  ${fifo}`);
  });

  it("a FIFO no writer opens is not waited on for ever: refused in one line", async () => {
    const fifo = join(tmp, "lonely");
    await execa("mkfifo", [fifo]);
    for (const args of [["hash", fifo], ["abi", fifo], ["diff", fifo, libz]]) {
      const r = await abilink(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`abilink: ${fifo}: empty: no writer brought anything within 5 s`);
    }
  });

  it("abi - -o - is a filter; -o - writes no file named -", async () => {
    const r = await sh(`cd "$2" && cat "$1" | A abi - -o -`, libz, tmp);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe((await abilink(["abi", libz])).stdout);
    expect(() => readFileSync(join(tmp, "-"))).toThrow();
  });

  it("- may be given once: a second is a usage error", async () => {
    for (const args of [["hash", "-", libz, "-"], ["diff", "-", "-"]]) {
      const r = await sh(`A "\${@:2}" < "$1"`, libz, ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`abilink: ${args[0]}: - (standard input) can be given only once`);
      expect(r.stdout).toBe("");
    }
  });

  it("a pipe bringing more than a manifest's bound is refused in one line; a device is refused unread", async () => {
    const big = await sh(`{ echo abilink-abi 1; head -c 70000000 /dev/zero; } | A hash -`);
    expect(big.code).toBe(1);
    expect(big.stderr).toBe("abilink: -: not ELF, and more than 67108864 bytes through a pipe: too large for a manifest");
    const empty = await sh(`A hash - < /dev/null`);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toBe("abilink: -: not a regular file or a pipe");
    const elf = await sh(`{ cat "$1"; head -c 1073741824 /dev/zero; } | A hash -`, libz);
    expect(elf.code).toBe(1);
    expect(elf.stderr).toBe("abilink: -: an ELF file of more than 1073741824 bytes (1 GiB) through a pipe; name the file instead");
    writeFileSync(join(tmp, "empty"), "");
    const nothing = await sh(`: | A diff - "$1"`, join(tmp, "empty"));
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toBe('abilink: -: neither an ELF file nor an abilink manifest (no ELF magic, no "abilink-abi" line)');
  });
});
