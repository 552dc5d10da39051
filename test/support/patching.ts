import { execa } from "execa";
import { copyFileSync, existsSync, realpathSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { BufferSource, ElfFile } from "../../src/elf/index.js";
import { planPatch, shiftOf, type Edit, type Layout, type PatchPlan } from "../../src/patch/index.js";

/** Applies `edits` in memory: the bytes a patch would write, without touching a file. */
export function patchBytes(input: Uint8Array, edits: readonly Edit[], layout: Layout = "auto"): { bytes: Uint8Array; plan: PatchPlan } {
  const plan = planPatch(ElfFile.parse(new BufferSource(input)), edits, { layout });
  const out = new Uint8Array(plan.newSize);
  out.set(input, shiftOf(plan));
  for (const w of plan.writes) out.set(w.bytes, w.offset);
  return { bytes: out, plan };
}

/** eu-elflint's verdict (`--gnu-ld`, as for binaries GNU ld made): true when it reports nothing. */
export async function elflintClean(path: string): Promise<{ ok: boolean; output: string }> {
  const r = await execa("eu-elflint", ["--gnu-ld", "-q", path], { reject: false, stdin: "ignore" });
  return { ok: r.exitCode === 0 && r.stdout.trim() === "", output: `${r.stdout}${r.stderr}`.trim() };
}

/** Runs a program with a time limit and no input; returns its exit code and output. */
export async function runProgram(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = await execa(cmd[0]!, cmd.slice(1), {
    reject: false,
    stdin: "ignore",
    timeout: 60_000,
    cwd: opts.cwd,
    env: { LC_ALL: "C", ...opts.env },
  });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** Copies `src` (resolving symlinks) into `dir`, under `name`. */
export function copyInto(dir: string, src: string, name = basename(src)): string {
  const dest = join(dir, name);
  copyFileSync(realpathSync(src), dest);
  return dest;
}

/** The first of `names` found on PATH (or an absolute path), resolved, or null. */
export function findProgram(name: string): string | null {
  if (name.startsWith("/")) return existsSync(name) ? realpathSync(name) : null;
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    const p = join(dir, name);
    try {
      if (statSync(p).isFile()) return realpathSync(p);
    } catch {
      // not here
    }
  }
  return null;
}
