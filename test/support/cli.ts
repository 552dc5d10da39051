import { execa } from "execa";

/** The CLI under test: this checkout's, or another build's (ABILINK_BIN), to show a test fails there. */
export const bin = process.env.ABILINK_BIN ?? new URL("../../bin/abilink", import.meta.url).pathname;

/** Runs the built CLI (`npm run build` first; `npm test` does). */
export async function abilink(args: string[], opts: { cwd?: string } = {}) {
  const r = await execa("node", [bin, ...args], { reject: false, cwd: opts.cwd, stdin: "ignore" });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}
