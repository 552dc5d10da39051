#!/usr/bin/env node
// Benchmark: `abilink scan` against `scanelf -R` and a per-file `readelf -d` loop over
// the same directory trees. Not a test: it measures, compares the sets of ELF files
// found, prints a summary and writes the raw numbers to bench/results/scan.json.
//
//   npm run bench                      # build, then bench /usr/lib /usr/bin
//   node bench/run.mjs DIR...          # other roots (dist/ must be built)
//   node bench/run.mjs --runs 10 --readelf-runs 1 --no-readelf DIR...
//   BENCH_NO_HYPERFINE=1 node bench/run.mjs DIR...   # force the own timing loop
//
// Timing uses hyperfine when installed (--warmup 1 --runs N --ignore-failure), else an
// own loop (1 warm-up run, N timed runs, median and mean). Peak RSS comes from GNU time
// (/usr/bin/time -f %M); without it memory is skipped. No dependencies beyond Node.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchArgs, findGnuTime, machineInfo, fmtKiB, firstLine, have, median, q, repo, resultsDir, sh } from "./lib.mjs";

const qa = (list) => list.map(q).join(" ");
// bench/results/*.tmp is git-ignored: scratch files (ELF list, hyperfine exports, time output).
const elfListFile = path.join(resultsDir, "elf-files.tmp");
const elfListRel = path.relative(repo, elfListFile);

// ---------------------------------------------------------------- arguments

const { values: args, positionals: rootArgs } = benchArgs(
  "usage: node bench/run.mjs [--runs N] [--readelf-runs N] [--mem-runs N] [--no-readelf] [DIR...]\n" +
    "  default DIRs: /usr/lib /usr/bin; default runs: 5 (readelf loop: 2), memory runs: 3 (readelf loop: 1)\n",
  { runs: 5, "readelf-runs": 2, "mem-runs": 3 },
  ["no-readelf"],
);
const opts = { runs: args.runs, readelfRuns: args["readelf-runs"], memRuns: args["mem-runs"], readelf: !args["no-readelf"] };
if (rootArgs.length === 0) rootArgs.push("/usr/lib", "/usr/bin");

// scanelf does not follow a root that is itself a symbolic link (`scanelf -R /bin` with
// /bin -> usr/bin scans nothing), while abilink does. Canonical roots give both tools the
// same trees and the same path spellings.
const roots = rootArgs.map((r) => {
  try {
    return fs.realpathSync(r);
  } catch (e) {
    console.error(`bench: cannot resolve ${r}: ${e.message}`);
    process.exit(2);
  }
});

// ---------------------------------------------------------------- helpers

function mean(xs) {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}
function stddev(xs) {
  if (xs.length < 2) return null;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}
const fmtS = (s) =>
  s == null ? "-" : s < 0.01 ? `${(s * 1000).toFixed(1)} ms` : s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(3)} s`;
const fmtRatio = (r) => (r == null ? "-" : `${r.toFixed(2)}x`);
function table(rows) {
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r, i) => {
    const line = r.map((cell, c) => String(cell).padEnd(w[c])).join("  ").trimEnd();
    return i === 0 ? `${line}\n${w.map((n) => "-".repeat(n)).join("  ")}` : line;
  }).join("\n");
}

// ---------------------------------------------------------------- environment

const env = {
  ...machineInfo(),
  scanelf: have("scanelf") ? firstLine("scanelf -V") : null,
  readelf: have("readelf") ? firstLine("readelf --version") : null,
  // BENCH_NO_HYPERFINE=1 forces the own timing loop.
  hyperfine: !process.env.BENCH_NO_HYPERFINE && have("hyperfine") ? firstLine("hyperfine --version") : null,
  gnuTime: null,
};
env.gnuTime = findGnuTime();
if (!fs.existsSync(path.join(repo, "dist", "cli", "main.js"))) {
  console.error("bench: dist/ is missing; run `npm run build` (or `npm run bench`) first");
  process.exit(2);
}

console.log(`abilink scan benchmark, ${env.date}`);
console.log(`roots: ${roots.join(" ")}${roots.join() !== rootArgs.join() ? `  (given as ${rootArgs.join(" ")})` : ""}`);
console.log(
  `${env.cpus} cores (${env.cpuModel}), ${env.kernel}, node ${env.node}, ${env.scanelf ?? "no scanelf"}, ` +
    `${env.hyperfine ?? "no hyperfine (own timing loop)"}, ${env.gnuTime ? "GNU time" : "no GNU time (memory skipped)"}`,
);
if (env.gitDirty.length) console.log(`note: src/ has uncommitted changes (${env.gitDirty.length} files); dist/ is what is measured`);

// ---------------------------------------------------------------- tree census

// Same rules as abilink's walker: no symbolic links below the roots, each directory once.
function census(rootList) {
  const c = { directories: 0, regularFiles: 0, symlinks: 0, other: 0, unreadableDirs: 0 };
  const seen = new Set();
  for (const root of rootList) {
    const stack = [root];
    while (stack.length) {
      const dir = stack.pop();
      let entries;
      try {
        const st = fs.statSync(dir);
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        c.unreadableDirs++;
        continue;
      }
      c.directories++;
      for (const e of entries) {
        if (e.isFile()) c.regularFiles++;
        else if (e.isDirectory()) stack.push(path.join(dir, e.name));
        else if (e.isSymbolicLink()) c.symlinks++;
        else c.other++;
      }
    }
  }
  return c;
}

// ---------------------------------------------------------------- commands

const rootsQ = qa(roots);
const commands = [
  {
    id: "abilink",
    name: `abilink scan (--jobs default = ${env.cpus})`,
    cmd: `node bin/abilink scan --json ${rootsQ} > /dev/null 2>&1`,
  },
  { id: "abilink-j1", name: "abilink scan --jobs 1", cmd: `node bin/abilink scan --json --jobs 1 ${rootsQ} > /dev/null 2>&1` },
];
// -R recurse; -B no banner; -F '%F %n': full path and comma-separated NEEDED for every ELF
// file (a format string overrides -n and friends; without -q every ELF file is printed,
// with or without NEEDED). Inside directories scanelf scans only lstat-regular files and
// recurses only into lstat-directories, so -y (skip symlinks) only matters for
// command-line arguments; the roots are canonical, so it is left out. No -m: abilink
// crosses mount points too. No -E/-M: every type and class is printed.
const SCANELF_FORMAT = "%F %n";
const scanelfArgs = ["-R", "-B", "-F", SCANELF_FORMAT, ...roots];
if (env.scanelf) {
  commands.push({ id: "scanelf", name: "scanelf -R", cmd: `scanelf ${qa(scanelfArgs)} > /dev/null 2>&1` });
}
if (env.readelf && opts.readelf) {
  // One readelf process per file, one at a time, over the ELF files abilink found.
  commands.push({
    id: "readelf-loop",
    name: "readelf -d per file",
    cmd: `xargs -d '\\n' -n1 -P1 readelf -d < ${q(elfListRel)} > /dev/null 2>&1`,
    runs: opts.readelfRuns,
    memRuns: 1,
  });
}

// ---------------------------------------------------------------- file sets

console.log("\n== file sets");
const counts = census(roots);
console.log(
  `tree: ${counts.directories} directories, ${counts.regularFiles} regular files, ${counts.symlinks} symbolic links (not followed), ` +
    `${counts.other} other${counts.unreadableDirs ? `, ${counts.unreadableDirs} unreadable directories` : ""}`,
);

// abilink's own output: one JSON object per ELF file; errors as `abilink: PATH: message`.
const ab = spawnSync("node", ["bin/abilink", "scan", "--json", ...roots], { cwd: repo, encoding: "utf8", maxBuffer: 1 << 30 });
if (ab.status !== 0 && ab.status !== 1) {
  console.error(`bench: abilink scan failed (exit ${ab.status}):\n${ab.stderr}`);
  process.exit(1);
}
const abRecords = new Map();
for (const line of ab.stdout.split("\n")) if (line) {
  const r = JSON.parse(line);
  abRecords.set(r.path, r);
}
const abErrors = ab.stderr.split("\n").filter(Boolean);
fs.writeFileSync(elfListFile, [...abRecords.keys()].join("\n") + "\n");
const elfBytes = [...abRecords.values()].reduce((a, r) => a + r.size, 0);
console.log(
  `abilink: ${abRecords.size} ELF files (${(elfBytes / 2 ** 20).toFixed(0)} MiB), exit ${ab.status}, ${abErrors.length} stderr lines`,
);
for (const l of abErrors.slice(0, 5)) console.log(`  ${l}`);

const fileSets = { abilink: abRecords.size, abilinkExit: ab.status, abilinkStderr: abErrors };
let neededCheck = null;
if (env.scanelf) {
  const se = spawnSync("scanelf", scanelfArgs, { encoding: "utf8", maxBuffer: 1 << 30 });
  const seNeeded = new Map();
  for (const line of se.stdout.split("\n")) if (line) {
    // NEEDED names contain no spaces; a path may.
    const i = line.lastIndexOf(" ");
    seNeeded.set(line.slice(0, i), line.slice(i + 1));
  }
  const seErrors = se.stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n").filter(Boolean);
  console.log(`scanelf: ${seNeeded.size} ELF files, exit ${se.status}, ${seErrors.length} stderr lines`);
  for (const l of seErrors.slice(0, 5)) console.log(`  ${l}`);

  const onlyScanelf = [...seNeeded.keys()].filter((p) => !abRecords.has(p));
  const onlyAbilink = [...abRecords.keys()].filter((p) => !seNeeded.has(p));
  const why = (p, side) => {
    let st;
    try {
      st = fs.lstatSync(p);
    } catch (e) {
      return `gone: ${e.code}`;
    }
    const facts = `${st.size} bytes, ${st.nlink} links`;
    if (side === "scanelf") {
      const err = abErrors.find((l) => l.startsWith(`abilink: ${p}: `));
      if (err) return `abilink rejected it as malformed: ${err.slice(`abilink: ${p}: `.length)} (${facts})`;
      return `not reported by abilink (${facts})`;
    }
    const one = spawnSync("scanelf", ["-B", "-F", SCANELF_FORMAT, p], { encoding: "utf8" });
    const msg = (one.stderr || "").replace(/\x1b\[[0-9;]*m/g, "").trim().split("\n")[0];
    return `scanelf on the file alone: ${one.stdout.trim() ? "found" : "not found"}${msg ? ` (${msg})` : ""}; ${abRecords.get(p).type}, ${facts}`;
  };
  const detail = (list, side) => list.slice(0, 20).map((p) => ({ path: p, reason: why(p, side) }));
  const diffScanelf = detail(onlyScanelf, "scanelf");
  const diffAbilink = detail(onlyAbilink, "abilink");
  console.log(`in both: ${abRecords.size - onlyAbilink.length}; only scanelf: ${onlyScanelf.length}; only abilink: ${onlyAbilink.length}`);
  for (const d of diffScanelf) console.log(`  only scanelf: ${d.path}\n    ${d.reason}`);
  for (const d of diffAbilink) console.log(`  only abilink: ${d.path}\n    ${d.reason}`);

  const disagreements = [];
  let compared = 0;
  for (const [p, r] of abRecords) {
    if (!seNeeded.has(p)) continue;
    compared++;
    if (r.needed.join(",") !== seNeeded.get(p)) disagreements.push({ path: p, abilink: r.needed, scanelf: seNeeded.get(p) });
  }
  console.log(`NEEDED compared for ${compared} files: ${disagreements.length} disagreements`);
  for (const d of disagreements.slice(0, 20)) console.log(`  ${d.path}: abilink [${d.abilink.join(",")}] scanelf [${d.scanelf}]`);
  neededCheck = { compared, disagreements: disagreements.length, examples: disagreements.slice(0, 20) };

  Object.assign(fileSets, {
    scanelf: seNeeded.size,
    scanelfExit: se.status,
    scanelfStderr: seErrors.slice(0, 50),
    inBoth: abRecords.size - onlyAbilink.length,
    onlyScanelf: onlyScanelf.length,
    onlyAbilink: onlyAbilink.length,
    onlyScanelfExamples: diffScanelf,
    onlyAbilinkExamples: diffAbilink,
    same: onlyScanelf.length === 0 && onlyAbilink.length === 0,
    // Differences that are all files abilink reported on stderr as malformed.
    sameExceptReportedMalformed:
      onlyAbilink.length === 0 && onlyScanelf.every((p) => abErrors.some((l) => l.startsWith(`abilink: ${p}: `))),
  });
}

// ---------------------------------------------------------------- timing

function timeWithHyperfine(c, runs) {
  const out = path.join(resultsDir, `hyperfine-${c.id}.tmp`);
  const args = ["--warmup", "1", "--runs", String(runs), "--ignore-failure", "--export-json", out, "-n", c.name, c.cmd];
  const r = spawnSync("hyperfine", args, { cwd: repo, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`hyperfine failed for ${c.name} (exit ${r.status})`);
  const res = JSON.parse(fs.readFileSync(out, "utf8")).results[0];
  fs.rmSync(out, { force: true });
  return {
    method: `hyperfine --warmup 1 --runs ${runs} --ignore-failure`,
    runs,
    mean: res.mean,
    stddev: res.stddev ?? null,
    median: res.median,
    min: res.min,
    max: res.max,
    user: res.user,
    system: res.system,
    times: res.times,
    exitCodes: res.exit_codes,
  };
}

function timeWithLoop(c, runs) {
  const once = () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync("sh", ["-c", c.cmd], { cwd: repo, stdio: "ignore" });
    return { s: Number(process.hrtime.bigint() - t0) / 1e9, code: r.status };
  };
  once(); // warm-up: page cache, dentry cache
  const times = [];
  const exitCodes = [];
  for (let i = 0; i < runs; i++) {
    const { s, code } = once();
    times.push(s);
    exitCodes.push(code);
  }
  const res = {
    method: `own loop: 1 warm-up, ${runs} runs (includes sh startup)`,
    runs,
    mean: mean(times),
    stddev: stddev(times),
    median: median(times),
    min: Math.min(...times),
    max: Math.max(...times),
    user: null,
    system: null,
    times,
    exitCodes,
  };
  console.log(`  ${c.name}: median ${fmtS(res.median)}, mean ${fmtS(res.mean)} over ${runs} runs`);
  return res;
}

// Peak RSS in KiB of the largest single process (GNU time reports the maximum over the
// process and the children it waited for; for the readelf loop that is one readelf or xargs).
function peakRss(c, runs) {
  if (!env.gnuTime) return null;
  const out = path.join(resultsDir, `time-${c.id}.tmp`);
  const values = [];
  for (let i = 0; i < runs; i++) {
    spawnSync(env.gnuTime, ["-f", "%M", "-o", out, "sh", "-c", c.cmd], { cwd: repo, stdio: "ignore" });
    const m = /(\d+)\s*$/.exec(fs.readFileSync(out, "utf8"));
    if (m) values.push(Number(m[1]));
  }
  fs.rmSync(out, { force: true });
  return { runs: values, median: median(values), max: values.length ? Math.max(...values) : null };
}

console.log(`\n== timing (${env.hyperfine ? "hyperfine" : "own loop: hyperfine not found or BENCH_NO_HYPERFINE set"})`);
for (const c of commands) {
  const runs = c.runs ?? opts.runs;
  c.timing = env.hyperfine ? timeWithHyperfine(c, runs) : timeWithLoop(c, runs);
}
console.log(`\n== peak memory (${env.gnuTime ? "GNU time %M" : "skipped: /usr/bin/time is not GNU time or missing"})`);
for (const c of commands) {
  c.peakRssKiB = peakRss(c, c.memRuns ?? opts.memRuns);
  if (c.peakRssKiB) console.log(`  ${c.name}: ${fmtKiB(c.peakRssKiB.median)} (runs: ${c.peakRssKiB.runs.join(", ")} KiB)`);
}

// ---------------------------------------------------------------- summary

const byId = Object.fromEntries(commands.map((c) => [c.id, c]));
const ratio = (a, b, key) => (byId[a] && byId[b] ? byId[a].timing[key] / byId[b].timing[key] : null);
const ratios = {
  abilinkOverScanelf: { mean: ratio("abilink", "scanelf", "mean"), median: ratio("abilink", "scanelf", "median") },
  abilinkJobs1OverScanelf: { mean: ratio("abilink-j1", "scanelf", "mean"), median: ratio("abilink-j1", "scanelf", "median") },
  abilinkOverReadelfLoop: { mean: ratio("abilink", "readelf-loop", "mean"), median: ratio("abilink", "readelf-loop", "median") },
  abilinkJobs1OverReadelfLoop: {
    mean: ratio("abilink-j1", "readelf-loop", "mean"),
    median: ratio("abilink-j1", "readelf-loop", "median"),
  },
};
const goal = {
  statement: "abilink scan wall time <= scanelf, same set of files found",
  timeMet: ratios.abilinkOverScanelf.mean == null ? null : ratios.abilinkOverScanelf.mean <= 1,
  sameFiles: fileSets.same ?? null,
  sameFilesExceptReportedMalformed: fileSets.sameExceptReportedMalformed ?? null,
};
goal.met = goal.timeMet === true && goal.sameFiles === true;

console.log(`\n== summary (${abRecords.size} ELF files of ${counts.regularFiles} regular files under ${roots.join(" ")})`);
const rows = [["command", "mean ± sd", "median", "min … max", "user", "sys", "runs", "peak RSS", "vs scanelf", "vs abilink"]];
for (const c of commands) {
  const t = c.timing;
  const vsSe = byId.scanelf ? t.mean / byId.scanelf.timing.mean : null;
  const vsAb = t.mean / byId.abilink.timing.mean;
  rows.push([
    c.name,
    `${fmtS(t.mean)} ± ${fmtS(t.stddev)}`,
    fmtS(t.median),
    `${fmtS(t.min)} … ${fmtS(t.max)}`,
    fmtS(t.user),
    fmtS(t.system),
    String(t.runs),
    fmtKiB(c.peakRssKiB?.median),
    fmtRatio(vsSe),
    fmtRatio(vsAb),
  ]);
}
console.log(table(rows));
console.log(
  `\nratios (mean): abilink/scanelf ${fmtRatio(ratios.abilinkOverScanelf.mean)}, abilink --jobs 1/scanelf ${fmtRatio(ratios.abilinkJobs1OverScanelf.mean)}, ` +
    `abilink/readelf-loop ${fmtRatio(ratios.abilinkOverReadelfLoop.mean)}`,
);
console.log(
  `goal "${goal.statement}": time ${goal.timeMet ? "met" : goal.timeMet === false ? "NOT met" : "not measured"}; ` +
    `file sets ${goal.sameFiles ? "identical" : goal.sameFiles === false ? `differ (${fileSets.onlyScanelf} only scanelf, ${fileSets.onlyAbilink} only abilink${goal.sameFilesExceptReportedMalformed ? "; all reported by abilink as malformed" : ""})` : "not compared"}`,
);
console.log("\ncommands (run from the repository root):");
for (const c of commands) console.log(`  ${c.cmd}`);

const result = {
  env,
  roots,
  rootsGiven: rootArgs,
  counts: { ...counts, elfAbilink: abRecords.size, elfScanelf: fileSets.scanelf ?? null, elfBytes },
  commands: commands.map(({ id, name, cmd, timing, peakRssKiB }) => ({ id, name, command: cmd, timing, peakRssKiB })),
  ratios,
  fileSets,
  needed: neededCheck,
  goal,
};
const outFile = path.join(resultsDir, "scan.json");
fs.writeFileSync(outFile, JSON.stringify(result, null, 2) + "\n");
console.log(`\nraw numbers: ${path.relative(repo, outFile)}; ELF list for the readelf loop: ${elfListRel}`);
