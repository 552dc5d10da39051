import { copyFileSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { dir } from "tmp-promise";
import { describe, expect, it } from "vitest";
import { ElfFile } from "../../src/elf/index.js";
import { inspectElf } from "../../src/inspect/summary.js";
import { FileSource } from "../../src/io/file-source.js";

describe("FileSource reads only the ranges the reader needs", () => {
  it("inspecting a 1 GiB file reads well under 1 MiB of it", async () => {
    const d = await dir({ unsafeCleanup: true });
    try {
      const big = join(d.path, "big.so");
      copyFileSync("/lib/x86_64-linux-gnu/libc.so.6", big);
      truncateSync(big, 1024 ** 3); // sparse: takes no disk space
      const src = FileSource.open(big);
      try {
        const r = inspectElf(ElfFile.parse(src), big);
        expect(r.soname).toBe("libc.so.6");
        expect(r.defined.length).toBeGreaterThan(1000);
        expect(src.size).toBe(1024 ** 3);
        expect(src.bytesRead).toBeLessThan(1024 ** 2);
      } finally {
        src.close();
      }
    } finally {
      await d.cleanup();
    }
  });
});
