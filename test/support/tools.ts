import { execaSync } from "execa";

/**
 * True when `tool` runs. Tests that need it use `describe.skipIf(!hasTool(...))`; the
 * message says what to install. Under CI a skip fails the run (scripts/test.mjs).
 */
export function hasTool(tool: string, debianPackage: string): boolean {
  try {
    execaSync(tool, ["--version"], { stdin: "ignore" });
    return true;
  } catch {
    console.warn(`skipping tests that need ${tool}: install it with \`apt-get install ${debianPackage}\``);
    return false;
  }
}
