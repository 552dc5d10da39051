#!/usr/bin/env node
// `npm test`: build, type-check the tests, run every vitest test, then print one plain summary line
// ("tests: N passed, N failed, N skipped"). Under CI=true a skipped test fails the run:
// CI installs every tool the tests need (see .ci/run).
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";

const results = ".vitest-results.json";
const run = (cmd, args) => spawnSync(cmd, args, { stdio: "inherit" }).status ?? 1;

// npm run build: tsc, then the bundle bin/abilink runs for `abilink patchelf` (scripts/bundle.mjs).
if (run("npm", ["run", "--silent", "build"]) !== 0) process.exit(1);
// vitest strips types without checking them: a test that no longer type-checks fails here.
if (run("npx", ["tsc", "-p", "test/tsconfig.json"]) !== 0) process.exit(1);
rmSync(results, { force: true });
const status = run("npx", ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile=${results}`, ...process.argv.slice(2)]);

let passed = 0, failed = 0, skipped = 0;
try {
  const r = JSON.parse(readFileSync(results, "utf8"));
  passed = r.numPassedTests;
  failed = r.numFailedTests + (r.numTotalTestSuites > 0 && r.success === false && r.numFailedTests === 0 ? 1 : 0);
  skipped = r.numPendingTests + r.numTodoTests;
} catch {
  failed = Math.max(failed, 1);
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (process.env.CI === "true" && skipped > 0) {
  console.error("CI: skipped tests are not allowed; .ci/run must install what they need");
  process.exit(1);
}
process.exit(status !== 0 ? status : failed > 0 ? 1 : 0);
