// The layers of src/ and the one direction their imports may take (README, "Layout"):
// cli -> closure -> stub -> abi/patch/inspect -> io -> elf (stub: pure, no io); cli -> demo, which
// runs the CLI as child processes; src/elf imports nothing else from the project and src/elf/write
// only src/elf. Read from the sources' import statements.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const src = new URL("../src/", import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : []));
}

/** The layer of a file: its folder under src/ (`elf/write` apart from `elf`), or the file itself at the top. */
function layer(file: string): string {
  const rel = relative(src, file);
  if (rel.startsWith("elf/write/")) return "elf/write";
  return rel.includes("/") ? rel.split("/")[0]! : rel.replace(/\.ts$/, "");
}

/** What each layer may import (besides itself). */
const ALLOWED: Record<string, string[]> = {
  elf: [],
  "elf/write": ["elf"],
  errors: ["elf"],
  glob: ["errors", "elf"],
  io: ["elf", "errors"],
  inspect: ["elf", "io", "errors"],
  abi: ["elf", "io", "errors", "glob"],
  patch: ["elf", "elf/write", "io", "errors"],
  stub: ["abi", "elf", "elf/write", "errors"],
  closure: ["abi", "patch", "stub", "inspect", "elf", "elf/write", "io", "errors", "glob"],
  demo: ["abi", "elf", "io", "errors"],
  cli: ["demo", "closure", "abi", "patch", "stub", "inspect", "elf", "elf/write", "io", "errors", "glob"],
  index: ["closure", "abi", "patch", "stub", "inspect", "elf", "elf/write", "io", "errors", "glob"],
};

const edges = sources(src).flatMap((file) =>
  [...readFileSync(file, "utf8").matchAll(/^(?:import|export)\b[^;]*?from\s+"(\.[^"]+)"/gms)].map((m) => {
    const target = resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts"));
    return { from: relative(src, file), to: relative(src, target), fromLayer: layer(file), toLayer: layer(target) };
  }),
);

describe("layers", () => {
  it("reads the imports of every source file", () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(new Set(edges.map((e) => e.fromLayer))).toEqual(new Set(Object.keys(ALLOWED)));
  });

  it("imports only point down: no layer reaches one above it", () => {
    const wrong = edges.filter((e) => e.fromLayer !== e.toLayer && !ALLOWED[e.fromLayer]!.includes(e.toLayer));
    expect(wrong.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });
});
