import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hasTool } from "../support/tools.js";
import { compareWithReadelf } from "../support/compare.js";

const root = new URL("../../testdata/fixtures/", import.meta.url).pathname;
const arches = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

describe.skipIf(!hasTool("readelf", "binutils"))("committed cross-architecture fixtures agree with readelf", () => {
  it("has every architecture the issue asks for", () => {
    expect(arches.sort()).toEqual(["aarch64", "armhf", "i386", "ppc64", "riscv64", "s390x", "x86_64", "x86_64-musl"]);
  });
  for (const arch of arches) {
    for (const file of readdirSync(join(root, arch))) {
      it(`${arch}/${file}`, async () => {
        expect(await compareWithReadelf(join(root, arch, file))).toEqual([]);
      });
    }
  }
});
