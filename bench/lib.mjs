// Helpers shared by the benchmark scripts (bench/run.mjs, bench/hash.mjs, bench/patch.mjs, bench/startup.mjs).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
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

/**
 * Command-line arguments of a bench script, through node:util's parseArgs: `counts` maps
 * `--name N` options (whole numbers from 1) to their defaults, `flags` names boolean
 * options, `strings` names options taking any value (undefined when not given). On --help,
 * or a bad argument, prints `usage` and exits (0 or 2).
 */
export function benchArgs(usage, counts, flags = [], strings = []) {
  const fail = (code) => {
    (code ? process.stderr : process.stdout).write(usage);
    process.exit(code);
  };
  const options = { help: { type: "boolean", short: "h" } };
  for (const k of Object.keys(counts)) options[k] = { type: "string" };
  for (const f of flags) options[f] = { type: "boolean" };
  for (const k of strings) options[k] = { type: "string" };
  let parsed;
  try {
    parsed = parseArgs({ options, allowPositionals: true });
  } catch {
    fail(2);
  }
  if (parsed.values.help) fail(0);
  const values = {};
  for (const [k, dflt] of Object.entries(counts)) {
    const v = parsed.values[k] === undefined ? dflt : Number(parsed.values[k]);
    if (!Number.isInteger(v) || v < 1) fail(2);
    values[k] = v;
  }
  for (const f of flags) values[f] = parsed.values[f] === true;
  for (const k of strings) values[k] = parsed.values[k];
  return { values, positionals: parsed.positionals };
}

/** What a result was measured on and at which commit; each script adds its own tools. */
export function machineInfo() {
  return {
    date: new Date().toISOString(),
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? null,
    memTotalMiB: Math.round(os.totalmem() / 2 ** 20),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    abilink: firstLine("node bin/abilink --version"),
    gitHead: firstLine("git rev-parse --short HEAD"),
    gitDirty: (sh("git status --porcelain -- src").stdout || "").trim().split("\n").filter(Boolean),
  };
}

/** e_type of an ELF file (read without abilink), or null for anything else or on error. */
export function elfType(file) {
  let fd;
  try {
    fd = fs.openSync(file, "r");
    const b = Buffer.alloc(18);
    if (fs.readSync(fd, b, 0, 18, 0) < 18) return null;
    if (b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) return null;
    return b[5] === 2 ? b.readUInt16BE(16) : b.readUInt16LE(16);
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Exits with status 2 and a one-line reason. */
export function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

/**
 * "/usr/bin/time" when it is GNU time (it writes the %M figure with -o; BusyBox or BSD time
 * would not understand -f/-o), else null: peak memory is then skipped.
 */
export function findGnuTime() {
  const probe = path.join(resultsDir, "time-probe.tmp");
  fs.mkdirSync(resultsDir, { recursive: true });
  const r = spawnSync("/usr/bin/time", ["-f", "%M", "-o", probe, "true"], { encoding: "utf8" });
  const ok = r.status === 0 && fs.existsSync(probe) && /^\d+\s*$/.test(fs.readFileSync(probe, "utf8"));
  fs.rmSync(probe, { force: true });
  return ok ? "/usr/bin/time" : null;
}

/**
 * The first result of a hyperfine `--export-json` file, as the benchmarks record it: the
 * times (seconds) and the exit codes. Dies when a run exited non-zero, with `why` appended.
 */
export function hyperfineResult(exportFile, id, why = "") {
  const h = JSON.parse(fs.readFileSync(exportFile, "utf8")).results[0];
  if (h.exit_codes.some((x) => x !== 0)) die(`${id} exited with ${h.exit_codes.join(",")}${why}`);
  return { mean: h.mean, stddev: h.stddev, median: h.median, min: h.min, max: h.max, user: h.user, system: h.system, times: h.times, exitCodes: h.exit_codes };
}

