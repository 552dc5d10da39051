#!/usr/bin/env node
// Part of `npm run build`, after tsc: bundles `abilink patchelf` (dist/cli/patchelf-main.js and
// what it imports) into dist/bundle/, which bin/abilink loads for `abilink patchelf` and for a
// link named `patchelf`. Scripts call patchelf once per file, and Node spends about 0.5 ms
// resolving, reading and compiling each ES module: one file instead of about 45 saves about
// 20 ms a call (bench/README.md, "abilink patchelf start-up"). The planner and the write path
// stay in a second file (edit.js), loaded only by a call that edits.
//
// The bundle stays two levels below the package root, as the modules it is made of are, so
// that dist/io/native.js's `../../build/Release/abilink_io.node` still finds the addon; the
// fs-xattr package is left external (its index.js loads its addon relative to itself).
import { rmSync } from "node:fs";
import { build } from "rolldown";

const root = new URL("..", import.meta.url).pathname;
const outDir = `${root}dist/bundle`;
rmSync(outDir, { recursive: true, force: true });
await build({
  cwd: root,
  input: { patchelf: `${root}dist/cli/patchelf-main.js` },
  platform: "node",
  external: ["fs-xattr", /^node:/],
  logLevel: "warn",
  output: {
    dir: outDir,
    format: "esm",
    entryFileNames: "[name].js",
    chunkFileNames: "[name].js",
    // Readable output: an internal error's stack names the functions of the sources.
    minify: false,
    comments: { legal: false, annotation: false, jsdoc: false },
  },
});
