import { openSync, readSync, closeSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { hasTool } from "../support/tools.js";
import { walkFiles } from "../../src/closure/walk.js";
import { compareWithReadelf } from "../support/compare.js";

/** Every ELF file (by content) in the system's library and program directories. */
function systemElfFiles(): string[] {
  const out: string[] = [];
  const magic = new Uint8Array(4);
  for (const path of walkFiles(["/usr/lib", "/usr/bin", "/usr/libexec"], { onError: () => {} })) {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      continue;
    }
    try {
      if (readSync(fd, magic, 0, 4, 0) === 4 && magic[0] === 0x7f && magic[1] === 0x45 && magic[2] === 0x4c && magic[3] === 0x46) {
        out.push(path);
      }
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

describe.skipIf(!hasTool("readelf", "binutils"))("differential test against GNU readelf over the system's ELF files", () => {
  it("agrees on interpreter, soname, needed, rpath, runpath and every dynamic symbol with its version", async () => {
    const files = systemElfFiles();
    expect(files.length).toBeGreaterThan(500);
    const results = await mapLimit(files, 4, compareWithReadelf);
    const disagreements = results.flat();
    console.log(`compared ${files.length} ELF files with readelf: ${disagreements.length} disagreements`);
    expect(disagreements.slice(0, 50)).toEqual([]);
  }, 1_800_000);
});
