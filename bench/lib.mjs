// Helpers shared by the benchmark scripts (bench/run.mjs, bench/hash.mjs).
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, "..");
/** bench/results/*.tmp is git-ignored scratch; *.json are the saved numbers. */
export const resultsDir = path.join(here, "results");

/** Quotes a word for sh. */
export const q = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Runs a shell command from the repository root. */
export function sh(cmd, extra = {}) {
  return spawnSync("sh", ["-c", cmd], { cwd: repo, encoding: "utf8", maxBuffer: 1 << 30, ...extra });
}

export const have = (cmd) => sh(`command -v ${q(cmd)}`).status === 0;

/** The first line a command prints (stdout, else stderr): a tool's version line. */
export function firstLine(cmd) {
  const r = sh(cmd);
  return ((r.stdout || "") + (r.stderr || "")).split("\n")[0].trim() || null;
}

export function median(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const fmtKiB = (k) => (k == null ? "-" : `${(k / 1024).toFixed(1)} MiB`);
