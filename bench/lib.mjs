// Helpers shared by the benchmark scripts (bench/run.mjs, hash.mjs, patch.mjs, startup.mjs, compat.mjs, diff.mjs).
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

/** Seconds for a table: milliseconds below one second. */
export const fmtS = (s) => (s == null ? "-" : s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(3)} s`);

/** The last lines of a timed run: what Node and sh alone cost (the harness floor), and the machine's load. */
export function printFloorAndLoad(floor, env) {
  console.log(`node -e 0: ${fmtS(floor.node.medianWall)}, sh -c ':' ${fmtS(floor.sh.medianWall)} (harness floor)`);
  console.log(`load average start ${env.loadavgStart.join(" ")}, end ${env.loadavgEnd.join(" ")}`);
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

/**
 * Times `commands` ([{id, cmd, okExit?: number[]}]) in alternating rounds, from the
 * repository root: one warm-up round (unless `warmup` is false), then `rounds` rounds that
 * each run every command once, the order rotated by one each round so that no command
 * always runs first. Each run is `GNU time -f '%U %S %M' sh -c CMD`; wall time is measured
 * around it (process.hrtime), so it includes starting sh and time (a few ms, the same for
 * every command). Dies when a run
 * exits with a status not in `okExit` (default [0]). Returns, per id, the runs
 * ({wall, user, sys, maxRssKiB, exit}) and their medians; user/sys/RSS are null without GNU
 * time. Peak RSS is GNU time's: the largest single process of the run, not a sum.
 */
export function timeAlternating(commands, rounds, { gnuTime, scratch, label = "", onRun, warmup = true } = {}) {
  const tmp = scratch ?? path.join(resultsDir, "alternating-time.tmp");
  const runs = Object.fromEntries(commands.map((c) => [c.id, []]));
  for (let round = warmup ? -1 : 0; round < rounds; round++) {
    const order = commands.map((_, i) => commands[(i + Math.max(round, 0)) % commands.length]);
    for (const c of order) {
      fs.rmSync(tmp, { force: true });
      const argv = gnuTime ? [gnuTime, ["-f", "%U %S %M", "-o", tmp, "sh", "-c", c.cmd]] : ["sh", ["-c", c.cmd]];
      const t0 = process.hrtime.bigint();
      const r = spawnSync(argv[0], argv[1], { cwd: repo, stdio: "ignore" });
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r.error) die(`${label}${c.id}: ${r.error.message}`);
      const exit = r.status ?? 128 + (os.constants.signals[r.signal] ?? 0);
      if (!(c.okExit ?? [0]).includes(exit)) die(`${label}${c.id} exited with ${exit}: ${c.cmd}`);
      let user = null, sys = null, maxRssKiB = null;
      if (gnuTime) {
        // GNU time writes "Command exited with non-zero status N" first when N != 0.
        const last = fs.readFileSync(tmp, "utf8").trim().split("\n").pop().split(" ").map(Number);
        [user, sys, maxRssKiB] = last;
      }
      const run = { wall, user, sys, maxRssKiB, exit };
      if (round >= 0) runs[c.id].push(run);
      onRun?.(c, run, round);
    }
  }
  fs.rmSync(tmp, { force: true });
  const med = (xs) => (xs.some((x) => x == null) ? null : median(xs));
  return Object.fromEntries(
    commands.map((c) => {
      const rs = runs[c.id];
      return [
        c.id,
        {
          runs: rs.length,
          medianWall: median(rs.map((r) => r.wall)),
          minWall: Math.min(...rs.map((r) => r.wall)),
          maxWall: Math.max(...rs.map((r) => r.wall)),
          medianUser: med(rs.map((r) => r.user)),
          medianSys: med(rs.map((r) => r.sys)),
          medianMaxRssKiB: med(rs.map((r) => r.maxRssKiB)),
          exitCodes: [...new Set(rs.map((r) => r.exit))],
          all: rs,
        },
      ];
    }),
  );
}

/**
 * Builds two versions of a small versioned library with gcc in `dir` (no debug info), and a
 * program linked against the first one: libdemo.so.1 v1 exports demo_add, demo_sub,
 * demo_old and demo_table (int[4]) at DEMO_1.0; v2 drops demo_old, grows demo_table to
 * int[8], changes demo_sub's C signature (invisible without debug info) and adds demo_mul at
 * DEMO_2.0. The program calls demo_old and reads demo_table through a copy relocation, so
 * with v2 it has one undefined symbol and one grown copy. Returns the paths, or {error} (the
 * reason) when gcc is missing or the build fails.
 */
export function buildDemoPair(dir) {
  if (!have("gcc")) return { error: "gcc not found" };
  const w = (n, s) => fs.writeFileSync(path.join(dir, n), s);
  w("v1.c", "int demo_table[4] = {1, 2, 3, 4};\nint demo_add(int a, int b) { return a + b; }\nint demo_sub(int a, int b) { return a - b; }\nint demo_old(int a) { return -a; }\n");
  w("v1.map", "DEMO_1.0 { global: demo_add; demo_sub; demo_old; demo_table; local: *; };\n");
  w("v2.c", "int demo_table[8] = {1, 2, 3, 4, 5, 6, 7, 8};\nint demo_add(int a, int b) { return a + b; }\nlong demo_sub(long a, long b) { return a - b; }\nint demo_mul(int a, int b) { return a * b; }\n");
  w("v2.map", "DEMO_1.0 { global: demo_add; demo_sub; demo_table; local: *; };\nDEMO_2.0 { global: demo_mul; } DEMO_1.0;\n");
  w("app.c", "extern int demo_table[4];\nint demo_add(int, int);\nint demo_old(int);\nint main(void) { return demo_add(demo_table[0], demo_old(1)) == 0 ? 0 : 1; }\n");
  fs.mkdirSync(path.join(dir, "v1"), { recursive: true });
  fs.mkdirSync(path.join(dir, "v2"), { recursive: true });
  const d = q(dir);
  const cmds = [
    `gcc -shared -fPIC -O2 -o ${d}/v1/libdemo.so.1 -Wl,-soname,libdemo.so.1 -Wl,--version-script,${d}/v1.map ${d}/v1.c`,
    `gcc -shared -fPIC -O2 -o ${d}/v2/libdemo.so.1 -Wl,-soname,libdemo.so.1 -Wl,--version-script,${d}/v2.map ${d}/v2.c`,
    // Not PIE, so demo_table gets a copy relocation.
    `gcc -O2 -no-pie -fno-pic -o ${d}/app ${d}/app.c ${d}/v1/libdemo.so.1`,
  ];
  for (const c of cmds) {
    const r = sh(c);
    if (r.status !== 0) return { error: `${c}: ${r.stderr.trim()}` };
  }
  return { v1: path.join(dir, "v1", "libdemo.so.1"), v2: path.join(dir, "v2", "libdemo.so.1"), app: path.join(dir, "app"), v2Dir: path.join(dir, "v2") };
}
