// Every .nix file of the checkout parses with Debian's nix-bin (nix-instantiate --parse): the
// package, default.nix and flake.nix cannot be built here (no nixpkgs offline), so this is
// what CI checks of them.
import { execa } from "execa";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hasTool } from "../support/tools.js";

const repo = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const env = { NIX_CONFIG: "sandbox = false\nbuild-users-group =\nsubstituters =\n" };
const hasNix = hasTool("nix-instantiate", "nix-bin");

const nixFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.name === "node_modules" || d.name.startsWith(".") ? [] : d.isDirectory() ? nixFiles(join(dir, d.name)) : d.name.endsWith(".nix") ? [join(dir, d.name)] : [],
  );

describe.skipIf(!hasNix)("every .nix file parses (nix-instantiate --parse)", () => {
  const files = [...nixFiles(join(repo, "nix")), join(repo, "default.nix"), join(repo, "flake.nix")];
  it("finds the package, the functions, default.nix, flake.nix and the test expressions", () => {
    for (const f of ["nix/package.nix", "nix/lib.nix", "default.nix", "flake.nix", "nix/tests/e2e.nix", "nix/tests/stdenv/default.nix"]) expect(files).toContain(join(repo, f));
  });
  it.each(files.map((f) => [f.slice(repo.length + 1), f]))("%s", async (_, f) => {
    const r = await execa("nix-instantiate", ["--parse", f], { env, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
  });
});

