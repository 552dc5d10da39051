#!/usr/bin/env node
// Benchmark: `abilink patch --set-runpath` against `patchelf --set-rpath` (1) on one large
// ELF file and (2) on 2,000 ELF files, abilink in one call against patchelf run once per
// file from an sh while-read loop. Not a test: it measures, checks a little, prints a
// summary and writes bench/results/patch.json.
//
//   node bench/patch.mjs                     # libLLVM-15 and 2,000 files (dist/ must be built)
//   node bench/patch.mjs --runs 10 --many-runs 5 --mem-runs 3 --files 2000 [LARGE-ELF]
//   TMPDIR=/mnt/xfs BENCH_OUT=bench/results/patch-xfs.json node bench/patch.mjs   # see bench/xfs-loop.sh
//
// Every timed run starts from fresh copies: hyperfine --prepare copies the pristine file
// (or directory) to the work path and runs `sync`, so neither the copy nor the write-back of
// the copy is timed, and abilink's fsync flushes only its own writes. The copies live in a
// directory from os.tmpdir() that is removed at the end; hyperfine exports and GNU time
// output go to bench/results/patch-*.tmp (git-ignored). Timing: hyperfine (--warmup 1
// --ignore-failure; the exit codes are checked). Peak RSS: GNU time (/usr/bin/time -f %M).
// No dependencies beyond Node, hyperfine, patchelf and readelf.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchArgs, die, elfType, findGnuTime, firstLine, fmtKiB, fmtS, have, hyperfineResult, machineInfo, median, q, repo, resultsDir, sh } from "./lib.mjs";

// BENCH_OUT names another results file, e.g. for a run with TMPDIR on another file system.
const outJson = process.env.BENCH_OUT ? path.resolve(process.env.BENCH_OUT) : path.join(resultsDir, "patch.json");
// bench/results/*.tmp is git-ignored.
const listFile = path.join(resultsDir, "patch-files.tmp");
const listRel = path.relative(repo, listFile);

// ---------------------------------------------------------------- arguments

const { values: args, positionals } = benchArgs(
  "usage: node bench/patch.mjs [--runs N] [--many-runs N] [--mem-runs N] [--files N] [LARGE-ELF]\n" +
    "  default LARGE-ELF: /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1 (else the largest usable ELF file over 50 MB)\n" +
    "  runs: large file 10, many files 5; memory runs 3; files 2000\n",
  { runs: 10, "many-runs": 5, "mem-runs": 3, files: 2000 },
);
const opts = { runs: args.runs, manyRuns: args["many-runs"], memRuns: args["mem-runs"], files: args.files };

// Where the many-file set comes from, in this order (walked recursively, deduplicated by
// inode; /usr/lib/debug holds separate debug files, not programs or libraries).
const ROOTS = ["/usr/bin", "/usr/sbin", "/usr/libexec", "/usr/lib/x86_64-linux-gnu", "/usr/lib"];
const SKIP_DIRS = new Set(["/usr/lib/debug"]);
const EXTRA_DIR = "/opt/abilink-bench/lib";
// The many-file runpath: longer than most existing ones, and added where there is none.
const MANY_RUNPATH = `$ORIGIN/../lib:${EXTRA_DIR}`;

// ---------------------------------------------------------------- helpers

const fmtB = (b) => (b == null ? "-" : Math.abs(b) >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MiB` : `${b.toLocaleString("en-US")} B`);
const fmtX = (r) => (r == null ? "-" : `${r.toFixed(2)}x`);
const la = () => os.loadavg().map((x) => Number(x.toFixed(2)));

/**
 * A fingerprint of dist/ (sha256 over every .js file, by path). dist/ is rebuilt while src/
 * is being edited; a different fingerprint at the end means the run measured two builds.
 */
function distFingerprint() {
  const h = createHash("sha256");
  const files = fs.readdirSync(path.join(repo, "dist"), { recursive: true }).filter((f) => f.endsWith(".js")).sort();
  for (const f of files) h.update(f).update("\0").update(fs.readFileSync(path.join(repo, "dist", f)));
  return h.digest("hex").slice(0, 16);
}

/** Which dist/ build each measurement ran against: { what, before, after }. */
const builds = [];
function underBuild(what, cmd, fn) {
  const before = distFingerprint();
  const r = fn();
  const after = distFingerprint();
  builds.push({ what, abilink: cmd.includes("bin/abilink"), before, after });
  if (after !== before) console.log(`(warning: dist/ was rebuilt during ${what}) `);
  return r;
}

let tmpRoot = null;
function cleanup() {
  if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
  tmpRoot = null;
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

function table(rows) {
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) => (c === 0 ? String(cell).padEnd(w[c]) : String(cell).padStart(w[c]))).join("  ");
      return i === 0 ? `${line}\n${w.map((n) => "-".repeat(n)).join("  ")}` : line;
    })
    .join("\n");
}

/** DT_RUNPATH / DT_RPATH as readelf -d shows them: { kinds: "RUNPATH" | "RPATH" | "RPATH+RUNPATH" | null, value, warnings }. */
function searchPath(file) {
  const r = spawnSync("readelf", ["-dW", file], { encoding: "utf8", maxBuffer: 1 << 26 });
  const found = {};
  for (const m of (r.stdout || "").matchAll(/\((RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[(.*)\]$/gm)) found[m[1]] = m[2];
  const kinds = Object.keys(found).sort().join("+") || null;
  const warnings = (r.stderr || "").split("\n").filter(Boolean);
  return { kinds, value: found.RUNPATH ?? found.RPATH ?? null, values: found, status: r.status, warnings };
}

function copyPreserving(src, dest) {
  fs.copyFileSync(src, dest);
  fs.chmodSync(dest, fs.statSync(src).mode & 0o7777);
}

/** Runs hyperfine on one command (with an optional --prepare) and returns its summary. */
function hyperfine(id, cmd, runs, prepare) {
  const exp = path.join(resultsDir, `patch-hyperfine-${id}.tmp`);
  const hfArgs = ["--warmup", "1", "--runs", String(runs), "--ignore-failure", "--style", "none", "--export-json", exp];
  if (prepare) hfArgs.push("--prepare", prepare);
  const loadavg = la();
  const dist = distFingerprint();
  const r = underBuild(`timing ${id}`, cmd, () => spawnSync("hyperfine", [...hfArgs, cmd], { cwd: repo, encoding: "utf8" }));
  if (r.status !== 0) die(`hyperfine failed for ${id}: ${r.stderr}`);
  return { ...hyperfineResult(exp, id), loadavgBefore: loadavg, dist };
}

/** Peak RSS (KiB) of `cmd`, GNU time, `prepare` run (untimed) before each run. */
function peakRss(cmd, n, prepare) {
  if (!gnuTime) return null;
  return underBuild(`peak RSS: ${cmd}`, cmd, () => peakRssRuns(cmd, n, prepare));
}
function peakRssRuns(cmd, n, prepare) {
  const tmp = path.join(resultsDir, "patch-time.tmp");
  const vals = [];
  for (let i = 0; i < n; i++) {
    if (prepare && sh(prepare).status !== 0) die(`prepare failed: ${prepare}`);
    const r = spawnSync(gnuTime, ["-f", "%M", "-o", tmp, "sh", "-c", cmd], { cwd: repo });
    if (r.status !== 0) die(`failed (exit ${r.status}): ${cmd}`);
    vals.push(Number(fs.readFileSync(tmp, "utf8").trim().split("\n").pop()));
  }
  fs.rmSync(tmp, { force: true });
  return { medianKiB: median(vals), runsKiB: vals };
}

/** Wall-clock seconds in selected system calls (strace -f -c -w; one run), for the "where the time goes" notes. */
function syscallSeconds(cmd, prepare) {
  if (!have("strace")) return null;
  return underBuild(`strace: ${cmd}`, cmd, () => syscallRun(cmd, prepare));
}
function syscallRun(cmd, prepare) {
  if (prepare && sh(prepare).status !== 0) die(`prepare failed: ${prepare}`);
  const tmp = path.join(resultsDir, "patch-strace.tmp");
  spawnSync("strace", ["-f", "-c", "-w", "-o", tmp, "sh", "-c", cmd], { cwd: repo });
  const out = {};
  for (const line of fs.readFileSync(tmp, "utf8").split("\n")) {
    const m = line.match(/^\s*[\d.]+\s+([\d.]+)\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/);
    if (m && ["copy_file_range", "fsync", "pwrite64", "write", "read", "pread64", "rename", "openat", "ftruncate"].includes(m[3]))
      out[m[3]] = { seconds: Number(m[1]), calls: Number(m[2]) };
  }
  fs.rmSync(tmp, { force: true });
  return out;
}

// ---------------------------------------------------------------- tools

if (!fs.existsSync(path.join(repo, "dist", "cli", "main.js"))) die("dist/ is missing; run `npx tsc -p tsconfig.json` first");
for (const t of ["hyperfine", "patchelf", "readelf", "xargs"]) if (!have(t)) die(`${t} is required`);

const gnuTime = findGnuTime();

const env = {
  ...machineInfo(),
  patchelf: firstLine("patchelf --version"),
  readelf: firstLine("readelf --version"),
  hyperfine: firstLine("hyperfine --version"),
  gnuTime,
  argMax: Number(firstLine("getconf ARG_MAX")),
  tmpdir: os.tmpdir(),
  tmpFs: firstLine(`df -T ${q(os.tmpdir())} | tail -1 | awk '{print $2}'`),
  distStart: distFingerprint(),
  loadavgStart: la(),
};

console.log(`abilink patch benchmark, ${env.date}`);
console.log(
  `${env.cpus} cores (${env.cpuModel}), ${env.kernel}, node ${env.node}, ${env.patchelf}, ${env.hyperfine}, ` +
    `${gnuTime ? "GNU time" : "no GNU time (memory skipped)"}; ${env.tmpdir} is ${env.tmpFs}; load average ${env.loadavgStart.join(" ")}`,
);
if (env.gitDirty.length) console.log(`note: src/ has uncommitted changes (${env.gitDirty.join("; ")})`);

// `--no-fsync` (newer builds): atomic, without the fsync patchelf does not do either.
const hasNoFsync = /--no-fsync/.test(sh("node bin/abilink patch --help").stdout || "");
env.abilinkHasNoFsync = hasNoFsync;

tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "abilink-patch-bench-"));
const node = "node bin/abilink patch";

// ================================================================ 1. one large file

const largeArg = positionals.at(-1);
const scratch = path.join(tmpRoot, "scratch");
fs.mkdirSync(scratch);

// ---------------------------------------------------------------- many-file candidates
// Walked first, because without a default large file the largest usable one is taken.

// skippedHardLinks: an inode already taken, mostly because /usr/lib contains the
// /usr/lib/x86_64-linux-gnu walked before it; also true hard links.
const census = { roots: [], elfExecOrDyn: 0, skippedOtherElfTypes: 0, skippedHardLinks: 0, skippedNewlineNames: 0 };
const candidates = [];
{
  const seen = new Set();
  const walk = (d) => {
    let es;
    try {
      es = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of es.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(p)) walk(p);
        continue;
      }
      if (!e.isFile()) continue;
      let st;
      try {
        st = fs.statSync(p);
      } catch {
        continue;
      }
      const t = elfType(p);
      if (t === null) continue;
      if (t !== 2 && t !== 3) {
        census.skippedOtherElfTypes++;
        continue;
      }
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) {
        census.skippedHardLinks++;
        continue;
      }
      seen.add(key);
      if (p.includes("\n")) {
        census.skippedNewlineNames++;
        continue;
      }
      candidates.push({ file: p, bytes: st.size, type: t === 2 ? "EXEC" : "DYN" });
    }
  };
  for (const r of ROOTS) {
    let real;
    try {
      real = fs.realpathSync(r);
    } catch {
      continue;
    }
    census.roots.push(real);
    walk(real);
  }
  census.elfExecOrDyn = candidates.length;
}

// ---------------------------------------------------------------- per-file pre-check
// abilink: one --dry-run --json call over every candidate (it writes nothing). patchelf:
// `patchelf --set-rpath R --output SCRATCH FILE` per file, in walk order until enough
// usable files are found. A file either tool refuses is dropped.

function abilinkDryRun(files, runpath) {
  const r = spawnSync("node", ["bin/abilink", "patch", "--dry-run", "--json", "--set-runpath", runpath, ...files], {
    cwd: repo,
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  const byPath = new Map();
  for (const l of r.stdout.split("\n").filter(Boolean)) {
    const j = JSON.parse(l);
    byPath.set(j.path, j);
  }
  return { status: r.status, byPath };
}

function patchelfCheck(file, runpath) {
  const out = path.join(scratch, "patchelf-check.out");
  const r = spawnSync("patchelf", ["--set-rpath", runpath, "--output", out, file], { encoding: "utf8" });
  fs.rmSync(out, { force: true });
  return { status: r.status, stderr: (r.stderr || "").trim() };
}

const abilinkPre = abilinkDryRun(candidates.map((c) => c.file), MANY_RUNPATH);
const dropped = [];
const usable = [];
const patchelfWarnings = [];
let examined = 0;
for (const c of candidates) {
  if (usable.length >= opts.files) break;
  examined++;
  const a = abilinkPre.byPath.get(c.file);
  const p = patchelfCheck(c.file, MANY_RUNPATH);
  const aErr = !a ? "no output from abilink" : a.error ?? null;
  const pErr = p.status !== 0 ? `exit ${p.status}: ${p.stderr.split("\n")[0]}` : null;
  if (p.status === 0 && p.stderr) patchelfWarnings.push({ file: c.file, stderr: p.stderr.split("\n")[0] });
  if (aErr || pErr) dropped.push({ file: c.file, bytes: c.bytes, abilink: aErr, patchelf: pErr });
  else usable.push({ ...c, abilinkGrowth: a.growth, abilinkFitsInPlace: a.inPlace, abilinkChanged: a.changed });
}
if (usable.length === 0) die("no ELF file that both tools accept");

// Drop reasons, grouped (the first words of each tool's message).
function reasons() {
  const g = {};
  for (const d of dropped) {
    const k = `abilink: ${d.abilink ?? "ok"} | patchelf: ${d.patchelf ?? "ok"}`;
    (g[k] ??= { count: 0, examples: [] }).count++;
    if (g[k].examples.length < 5) g[k].examples.push(d.file);
  }
  return Object.entries(g)
    .sort((a, b) => b[1].count - a[1].count)
    .map(([reason, v]) => ({ reason, ...v }));
}

// ---------------------------------------------------------------- the large file

let large;
{
  let file = largeArg ?? "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1";
  if (!largeArg && !fs.existsSync(file)) {
    const best = [...usable].sort((a, b) => b.bytes - a.bytes)[0];
    if (!best || best.bytes <= 50e6) die("no usable ELF file over 50 MB; pass one");
    file = best.file;
  }
  file = fs.realpathSync(file);
  const bytes = fs.statSync(file).size;
  const before = searchPath(file);
  // Longer than the current search path: append a directory to it.
  const runpath = before.value ? `${before.value}:${EXTRA_DIR}` : EXTRA_DIR;
  large = { file, bytes, before: { kinds: before.kinds, value: before.value }, runpath };
}
console.log(
  `large file: ${large.file} (${fmtB(large.bytes)}), ${large.before.kinds ?? "no search path"} ` +
    `${JSON.stringify(large.before.value)} -> ${JSON.stringify(large.runpath)}`,
);

const orig = path.join(tmpRoot, "large.orig");
const work = path.join(tmpRoot, "large.work");
copyPreserving(large.file, orig);
const rq = q(large.runpath);
const prepLarge = `rm -f ${q(work)} && cp ${q(orig)} ${q(work)} && sync`;
const largeCmds = [
  { id: "large-abilink", name: "abilink patch (atomic: copy + rename)", cmd: `${node} --set-runpath ${rq} ${q(work)} > /dev/null 2>&1` },
  { id: "large-abilink-in-place", name: "abilink patch --in-place", cmd: `${node} --in-place --set-runpath ${rq} ${q(work)} > /dev/null 2>&1` },
  { id: "large-patchelf", name: "patchelf --set-rpath", cmd: `patchelf --set-rpath ${rq} ${q(work)} > /dev/null 2>&1` },
];
if (hasNoFsync)
  largeCmds.splice(2, 0, { id: "large-abilink-no-fsync", name: "abilink patch --no-fsync (atomic)", cmd: `${node} --no-fsync --set-runpath ${rq} ${q(work)} > /dev/null 2>&1` });

// Correctness and growth: one run of each, from a fresh copy.
const largeChecks = {};
{
  const results = {};
  for (const c of largeCmds) {
    if (sh(prepLarge).status !== 0) die("copying the large file failed");
    const r = sh(c.cmd.replace(" > /dev/null 2>&1", ""));
    const sp = searchPath(work);
    const keep = path.join(scratch, `${c.id}.out`);
    fs.renameSync(work, keep);
    results[c.id] = keep;
    largeChecks[c.id] = {
      exitStatus: r.status,
      stderr: (r.stderr || "").trim(),
      sizeAfter: fs.statSync(keep).size,
      growth: fs.statSync(keep).size - large.bytes,
      after: { kinds: sp.kinds, value: sp.value },
      valueOk: sp.value === large.runpath,
      readelfWarnings: sp.warnings.slice(0, 5),
    };
  }
  largeChecks.inPlaceIdenticalToAtomic = fs
    .readFileSync(results["large-abilink"])
    .equals(fs.readFileSync(results["large-abilink-in-place"]));
  // Does the dynamic loader accept both results? (dlopen through Python's ctypes.)
  if (have("python3")) {
    for (const id of ["large-abilink", "large-patchelf"]) {
      const r = spawnSync("python3", ["-c", "import ctypes,sys; ctypes.CDLL(sys.argv[1])", results[id]], { encoding: "utf8" });
      largeChecks[id].dlopenOk = large.file.includes(".so") ? r.status === 0 : null;
      if (r.status !== 0 && large.file.includes(".so")) largeChecks[id].dlopenError = (r.stderr || "").trim().split("\n").pop();
    }
  }
  for (const f of Object.values(results)) fs.rmSync(f, { force: true });
  // What abilink's plan says (dry run on the original).
  const dry = abilinkDryRun([orig], large.runpath).byPath.get(orig);
  largeChecks.abilinkPlan = dry ? { changes: dry.changes, inPlace: dry.inPlace, growth: dry.growth, segment: dry.segment, moved: dry.moved } : null;
}
for (const c of largeCmds) {
  const k = largeChecks[c.id];
  if (k.exitStatus !== 0 || !k.valueOk) die(`${c.id} failed on the large file: exit ${k.exitStatus}, ${k.stderr}, search path ${JSON.stringify(k.after)}`);
}
console.log(
  `checks: search path after abilink ${largeChecks["large-abilink"].after.kinds} ok, in place ${largeChecks["large-abilink-in-place"].after.kinds} ok, ` +
    `patchelf ${largeChecks["large-patchelf"].after.kinds} ok; in-place result identical to atomic: ${largeChecks.inPlaceIdenticalToAtomic}; ` +
    `growth abilink ${fmtB(largeChecks["large-abilink"].growth)}, patchelf ${fmtB(largeChecks["large-patchelf"].growth)}` +
    (largeChecks["large-abilink"].dlopenOk != null
      ? `; dlopen abilink ${largeChecks["large-abilink"].dlopenOk}, patchelf ${largeChecks["large-patchelf"].dlopenOk}`
      : ""),
);

// Context commands (no prepare: they write nothing): Node's start-up, abilink's start-up,
// and a dry run (start-up + reading + planning, no write).
const contextCmds = [
  { id: "node-startup", name: "node -e 0", cmd: "node -e 0" },
  { id: "abilink-version", name: "abilink --version (start-up)", cmd: "node bin/abilink --version > /dev/null 2>&1" },
  { id: "large-abilink-dry-run", name: "abilink patch --dry-run (no write)", cmd: `${node} --dry-run --set-runpath ${rq} ${q(orig)} > /dev/null 2>&1` },
];

console.log(`\n== timing: large file (${opts.runs} runs each, fresh copy + sync before each run, untimed)`);
for (const c of largeCmds) {
  process.stdout.write(`${c.name}… `);
  c.result = hyperfine(c.id, c.cmd, opts.runs, prepLarge);
  console.log(`${fmtS(c.result.mean)} ± ${fmtS(c.result.stddev)}`);
}
for (const c of contextCmds) {
  process.stdout.write(`${c.name}… `);
  c.result = hyperfine(c.id, c.cmd, opts.runs, null);
  console.log(`${fmtS(c.result.mean)} ± ${fmtS(c.result.stddev)}`);
}

// Peak RSS: the large file against a small one (a copy of /usr/bin/ls) and, where it
// exists, a 31 MB library with a tiny dynamic symbol table (libicudata): abilink's memory
// should follow what it reads (headers, dynamic tables, the strings and symbols it moves),
// not the file size.
console.log(`\n== peak RSS (${opts.memRuns} runs each, median)`);
const memFiles = [
  { id: "small", file: "/usr/bin/ls" },
  { id: "medium", file: "/usr/lib/x86_64-linux-gnu/libicudata.so.72.1" },
  { id: "large", file: large.file },
].filter((m) => fs.existsSync(m.file));
const memory = [];
for (const m of memFiles) {
  const src = m.id === "large" ? orig : path.join(tmpRoot, `mem-${m.id}.orig`);
  if (m.id !== "large") copyPreserving(m.file, src);
  const cur = searchPath(src).value;
  const rp = m.id === "large" ? large.runpath : cur ? `${cur}:${EXTRA_DIR}` : EXTRA_DIR;
  const w = path.join(tmpRoot, `mem-${m.id}.work`);
  const prep = `rm -f ${q(w)} && cp ${q(src)} ${q(w)} && sync`;
  const row = { id: m.id, file: m.file, bytes: fs.statSync(src).size, runpath: rp };
  row.abilink = peakRss(`${node} --set-runpath ${q(rp)} ${q(w)}`, opts.memRuns, prep);
  row.abilinkInPlace = peakRss(`${node} --in-place --set-runpath ${q(rp)} ${q(w)}`, opts.memRuns, prep);
  row.patchelf = peakRss(`patchelf --set-rpath ${q(rp)} ${q(w)}`, opts.memRuns, prep);
  // abilink's own plan: how many bytes it moves (= the growth; these bytes are in memory).
  const d = abilinkDryRun([src], rp).byPath.get(src);
  row.abilinkGrowth = d?.growth ?? null;
  memory.push(row);
  fs.rmSync(w, { force: true });
  console.log(
    `${m.id.padEnd(6)} ${path.basename(m.file).padEnd(24)} ${fmtB(row.bytes).padStart(12)}: abilink ${fmtKiB(row.abilink?.medianKiB)}, ` +
      `--in-place ${fmtKiB(row.abilinkInPlace?.medianKiB)}, patchelf ${fmtKiB(row.patchelf?.medianKiB)} (abilink moves ${fmtB(row.abilinkGrowth)})`,
  );
}
const nodeRss = peakRss("node -e 0", opts.memRuns, null);

// Where the time goes: wall-clock seconds in the system calls that copy and write (strace -c -w, one run).
const largeSyscalls = {};
for (const c of largeCmds) largeSyscalls[c.id] = syscallSeconds(c.cmd, prepLarge);
fs.rmSync(orig, { force: true });

// ================================================================ 2. many files

console.log(
  `\n== many files: ${candidates.length} ELF programs and libraries (EXEC/DYN, distinct inodes) under ${census.roots.join(" ")}; ` +
    `examined ${examined}, usable ${usable.length}, dropped ${dropped.length}`,
);
for (const r of reasons()) console.log(`  dropped ${r.count}: ${r.reason} (e.g. ${r.examples.slice(0, 2).join(", ")})`);

// The set: the usable files in walk order; repeated under new names if there are fewer
// than --files of them. Names NNNN-basename in one flat directory.
const pristine = path.join(tmpRoot, "pristine");
const manyWork = path.join(tmpRoot, "w");
const set = [];
for (let i = 0; set.length < opts.files; i++) {
  const u = usable[i % usable.length];
  set.push({ ...u, name: `${String(set.length).padStart(4, "0")}-${path.basename(u.file)}`, repeat: Math.floor(i / usable.length) });
}
fs.mkdirSync(pristine);
for (const s of set) copyPreserving(s.file, path.join(pristine, s.name));
const workFiles = set.map((s) => path.join(manyWork, s.name));
fs.writeFileSync(listFile, workFiles.join("\n") + "\n");
const setBytes = set.reduce((a, s) => a + s.bytes, 0);
const repeats = set.filter((s) => s.repeat > 0).length;
console.log(
  `set: ${set.length} files (${set.filter((s) => s.type === "EXEC").length} ET_EXEC, ${set.filter((s) => s.type === "DYN").length} ET_DYN), ` +
    `${fmtB(setBytes)}, ${repeats} repeated copies`,
);

// xargs' default command buffer is 128 KiB (ARG_MAX is 2 MiB here), which 2,000 paths can
// exceed; -s raises it so that abilink gets every file in one call. Checked here.
const xargsS = 1000000;
const xargsCmd = `xargs -a ${listRel} -d '\\n' -s ${xargsS}`;
const mq = q(MANY_RUNPATH);
const xargsCalls = Number((sh(`${xargsCmd} sh -c 'echo "$#"' x ${node} --set-runpath ${mq} | wc -l`).stdout || "0").trim());
if (xargsCalls !== 1) console.log(`note: xargs splits the list into ${xargsCalls} abilink calls (ARG_MAX)`);
const listBytes = workFiles.reduce((a, f) => a + Buffer.byteLength(f) + 1, 0);

const prepMany = `rm -rf ${q(manyWork)} && cp -a ${q(pristine)} ${q(manyWork)} && sync`;
const manyCmds = [
  { id: "many-abilink", name: "abilink patch, one call (atomic)", cmd: `${xargsCmd} ${node} --set-runpath ${mq} > /dev/null 2>&1` },
  { id: "many-abilink-in-place", name: "abilink patch --in-place, one call", cmd: `${xargsCmd} ${node} --in-place --set-runpath ${mq} > /dev/null 2>&1` },
  // abilink's default is one thread per core (--jobs); one thread, as patchelf has, for reference.
  { id: "many-abilink-jobs1", name: "abilink patch --jobs 1, one call (atomic)", cmd: `${xargsCmd} ${node} --jobs 1 --set-runpath ${mq} > /dev/null 2>&1` },
  {
    id: "many-patchelf-loop",
    name: "patchelf per file (sh while-read loop)",
    cmd: `while IFS= read -r f; do patchelf --set-rpath ${mq} "$f"; done < ${listRel} > /dev/null 2>&1`,
  },
  ...(hasNoFsync
    ? [{ id: "many-abilink-no-fsync", name: "abilink patch --no-fsync, one call (atomic)", cmd: `${xargsCmd} ${node} --no-fsync --set-runpath ${mq} > /dev/null 2>&1` }]
    : []),
  // Not the goal's baseline: patchelf 0.14 also takes several files in one call.
  { id: "many-patchelf-xargs", name: "patchelf, one call (xargs; for reference)", cmd: `${xargsCmd} patchelf --set-rpath ${mq} > /dev/null 2>&1` },
];

// Correctness and growth: one run of each, from fresh copies; every file's search path
// through readelf (the path string only: patchelf turns DT_RPATH into DT_RUNPATH, abilink
// keeps the kind), per-file growth, and whether a patched copy of ls still runs.
const manyChecks = {};
{
  const sizesBefore = set.map((s) => s.bytes);
  const keepDirs = {};
  for (const c of manyCmds) {
    if (sh(prepMany).status !== 0) die("restoring the work directory failed");
    const r = sh(c.cmd.replace(" > /dev/null 2>&1", ""));
    const sizes = workFiles.map((f) => fs.statSync(f).size);
    const k = {
      exitStatus: r.status,
      stderrLines: (r.stderr || "").split("\n").filter(Boolean).slice(0, 20),
      totalGrowth: sizes.reduce((a, b) => a + b, 0) - sizesBefore.reduce((a, b) => a + b, 0),
      filesGrown: sizes.filter((s, i) => s > sizesBefore[i]).length,
      maxGrowth: Math.max(...sizes.map((s, i) => s - sizesBefore[i])),
    };
    k.sizes = sizes;
    if (!["many-patchelf-xargs", "many-abilink-jobs1", "many-abilink-no-fsync"].includes(c.id)) {
      const kinds = {};
      const wrong = [];
      const warned = [];
      for (let i = 0; i < workFiles.length; i++) {
        const sp = searchPath(workFiles[i]);
        kinds[sp.kinds ?? "none"] = (kinds[sp.kinds ?? "none"] ?? 0) + 1;
        if (sp.value !== MANY_RUNPATH || Object.values(sp.values).some((v) => v !== MANY_RUNPATH))
          wrong.push({ file: set[i].name, from: set[i].file, kinds: sp.kinds, values: sp.values });
        if (sp.warnings.length) warned.push({ file: set[i].name, from: set[i].file, warning: sp.warnings[0] });
      }
      Object.assign(k, { checkedFiles: workFiles.length, kindsAfter: kinds, wrongValue: wrong.length, wrongExamples: wrong.slice(0, 20), readelfWarnings: warned.length, readelfWarningExamples: warned.slice(0, 20) });
      const ls = set.findIndex((s) => s.file === "/usr/bin/ls");
      if (ls >= 0) {
        const run = spawnSync(workFiles[ls], ["--version"], { encoding: "utf8" });
        k.patchedLsRuns = run.status === 0 && /coreutils/.test(run.stdout);
      }
    }
    if (c.id === "many-abilink" || c.id === "many-abilink-in-place") {
      keepDirs[c.id] = path.join(tmpRoot, `kept-${c.id}`);
      fs.renameSync(manyWork, keepDirs[c.id]);
    }
    manyChecks[c.id] = k;
  }
  // The in-place results are byte for byte the atomic ones.
  let differ = 0;
  for (const s of set) {
    const a = fs.readFileSync(path.join(keepDirs["many-abilink"], s.name));
    const b = fs.readFileSync(path.join(keepDirs["many-abilink-in-place"], s.name));
    if (!a.equals(b)) differ++;
  }
  manyChecks.inPlaceFilesDifferingFromAtomic = differ;
  for (const d of Object.values(keepDirs)) fs.rmSync(d, { recursive: true, force: true });
  // Per file: abilink's growth against patchelf's.
  const ga = manyChecks["many-abilink"].sizes;
  const gp = manyChecks["many-patchelf-loop"].sizes;
  const more = set.map((s, i) => ({ file: s.file, abilink: ga[i] - s.bytes, patchelf: gp[i] - s.bytes })).filter((x) => x.abilink > x.patchelf);
  manyChecks.growthComparison = {
    abilinkGrewMore: more.length,
    abilinkGrewMoreExamples: more.sort((a, b) => b.abilink - b.patchelf - (a.abilink - a.patchelf)).slice(0, 100),
    abilinkGrewLess: set.filter((s, i) => ga[i] < gp[i]).length,
    same: set.filter((s, i) => ga[i] === gp[i]).length,
    abilinkNoGrowth: set.filter((s, i) => ga[i] === s.bytes).length,
    patchelfNoGrowth: set.filter((s, i) => gp[i] === s.bytes).length,
  };
  // By e_type: patchelf rewrites ET_EXEC files differently (it reuses the space at the start).
  const byType = {};
  for (const t of ["EXEC", "DYN"]) {
    const idx = set.map((s, i) => i).filter((i) => set[i].type === t);
    byType[t] = {
      files: idx.length,
      abilinkGrowth: idx.reduce((a, i) => a + ga[i] - set[i].bytes, 0),
      patchelfGrowth: idx.reduce((a, i) => a + gp[i] - set[i].bytes, 0),
      abilinkGrewMore: idx.filter((i) => ga[i] > gp[i]).length,
    };
  }
  manyChecks.growthComparison.byType = byType;
  for (const k of Object.values(manyChecks)) if (k && typeof k === "object") delete k.sizes;
}
for (const c of manyCmds) {
  const k = manyChecks[c.id];
  if (k.exitStatus !== 0) console.log(`warning: ${c.id} exited ${k.exitStatus}: ${k.stderrLines.slice(0, 3).join(" / ")}`);
}
console.log(
  `checks: abilink exit ${manyChecks["many-abilink"].exitStatus}, search path wrong in ${manyChecks["many-abilink"].wrongValue}/${set.length} ` +
    `(${JSON.stringify(manyChecks["many-abilink"].kindsAfter)}); --in-place files differing from atomic: ${manyChecks.inPlaceFilesDifferingFromAtomic}; ` +
    `patchelf loop wrong in ${manyChecks["many-patchelf-loop"].wrongValue} (${JSON.stringify(manyChecks["many-patchelf-loop"].kindsAfter)}); ` +
    `readelf warnings abilink ${manyChecks["many-abilink"].readelfWarnings}, patchelf ${manyChecks["many-patchelf-loop"].readelfWarnings}; ` +
    `patched ls runs: abilink ${manyChecks["many-abilink"].patchedLsRuns}, patchelf ${manyChecks["many-patchelf-loop"].patchedLsRuns}`,
);

console.log(`\n== timing: ${set.length} files (${opts.manyRuns} runs each, fresh copies + sync before each run, untimed)`);
for (const c of manyCmds) {
  process.stdout.write(`${c.name}… `);
  c.result = hyperfine(c.id, c.cmd, opts.manyRuns, prepMany);
  c.result.perFile = c.result.mean / set.length;
  console.log(`${fmtS(c.result.mean)} ± ${fmtS(c.result.stddev)}`);
}
// Peak RSS of the one abilink call, and of the largest single process of the loop.
for (const c of manyCmds) c.result.peakRss = peakRss(c.cmd, 1, prepMany);
const manySyscalls = {};
for (const c of manyCmds.filter((c) => ["many-abilink", "many-abilink-in-place", "many-patchelf-loop"].includes(c.id)))
  manySyscalls[c.id] = syscallSeconds(c.cmd, prepMany);
for (const c of largeCmds) c.result.peakRss = memory.find((m) => m.id === "large")?.[{ "large-abilink": "abilink", "large-abilink-in-place": "abilinkInPlace", "large-patchelf": "patchelf" }[c.id]] ?? null;

// ================================================================ summary

env.loadavgEnd = la();
env.distEnd = distFingerprint();
// The builds the abilink measurements ran against (patchelf's do not depend on dist/).
env.abilinkBuilds = [...new Set(builds.filter((b) => b.abilink).flatMap((b) => [b.before, b.after]))];
env.builds = builds;
if (env.abilinkBuilds.length > 1)
  console.log(`warning: the abilink measurements saw ${env.abilinkBuilds.length} builds of dist/ (${env.abilinkBuilds.join(", ")}); see env.builds`);
const L = Object.fromEntries([...largeCmds, ...contextCmds].map((c) => [c.id, c]));
const M = Object.fromEntries(manyCmds.map((c) => [c.id, c]));
const pe = L["large-patchelf"].result.mean;
const loop = M["many-patchelf-loop"].result.mean;
const ratios = {
  largeAbilinkOverPatchelf: L["large-abilink"].result.mean / pe,
  largeAbilinkInPlaceOverPatchelf: L["large-abilink-in-place"].result.mean / pe,
  manyPatchelfLoopOverAbilink: loop / M["many-abilink"].result.mean,
  manyPatchelfLoopOverAbilinkInPlace: loop / M["many-abilink-in-place"].result.mean,
  manyPatchelfLoopOverAbilinkJobs1: loop / M["many-abilink-jobs1"].result.mean,
  manyPatchelfLoopOverAbilinkNoFsync: M["many-abilink-no-fsync"] ? loop / M["many-abilink-no-fsync"].result.mean : null,
  largeAbilinkNoFsyncOverPatchelf: L["large-abilink-no-fsync"] ? L["large-abilink-no-fsync"].result.mean / pe : null,
  manyPatchelfXargsOverAbilink: M["many-patchelf-xargs"].result.mean / M["many-abilink"].result.mean,
};
const largeMem = memory.find((m) => m.id === "large");
const smallMem = memory.find((m) => m.id === "small");
const goals = {
  largeTime: { target: "abilink ≤ 1.5× patchelf (atomic default)", ratio: ratios.largeAbilinkOverPatchelf, met: ratios.largeAbilinkOverPatchelf <= 1.5 },
  largeTimeInPlace: { target: "abilink --in-place ≤ 1.5× patchelf", ratio: ratios.largeAbilinkInPlaceOverPatchelf, met: ratios.largeAbilinkInPlaceOverPatchelf <= 1.5 },
  largeMemory: {
    target: "abilink's peak RSS does not grow with file size",
    smallKiB: smallMem?.abilink?.medianKiB ?? null,
    largeKiB: largeMem?.abilink?.medianKiB ?? null,
    // Judged in the README from the three sizes; recorded here as the large/small ratio.
    ratio: smallMem && largeMem ? largeMem.abilink.medianKiB / smallMem.abilink.medianKiB : null,
  },
  largeGrowth: {
    target: "no more growth than patchelf",
    abilink: largeChecks["large-abilink"].growth,
    patchelf: largeChecks["large-patchelf"].growth,
    met: largeChecks["large-abilink"].growth <= largeChecks["large-patchelf"].growth,
  },
  manyTime: { target: "abilink ≥ 3× faster than the patchelf loop", ratio: ratios.manyPatchelfLoopOverAbilink, met: ratios.manyPatchelfLoopOverAbilink >= 3 },
  manyGrowth: {
    target: "no more growth than patchelf, in total and on every file",
    abilink: manyChecks["many-abilink"].totalGrowth,
    patchelf: manyChecks["many-patchelf-loop"].totalGrowth,
    filesGrownMore: manyChecks.growthComparison.abilinkGrewMore,
    met:
      manyChecks["many-abilink"].totalGrowth <= manyChecks["many-patchelf-loop"].totalGrowth &&
      manyChecks.growthComparison.abilinkGrewMore === 0,
  },
};

console.log(`\nlarge file: ${path.basename(large.file)} (${fmtB(large.bytes)}), ${opts.runs} runs`);
console.log(
  table([
    ["command", "mean", "± σ", "user", "sys", "peak RSS", "growth", "÷ patchelf"],
    ...largeCmds.map((c) => [
      c.name,
      fmtS(c.result.mean),
      fmtS(c.result.stddev),
      fmtS(c.result.user),
      fmtS(c.result.system),
      fmtKiB(c.result.peakRss?.medianKiB),
      fmtB(largeChecks[c.id].growth),
      fmtX(c.result.mean / pe),
    ]),
    ...contextCmds.map((c) => [c.name, fmtS(c.result.mean), fmtS(c.result.stddev), fmtS(c.result.user), fmtS(c.result.system), "-", "-", fmtX(c.result.mean / pe)]),
  ]),
);
console.log(`\n${set.length} files (${fmtB(setBytes)}), ${opts.manyRuns} runs; xargs calls: ${xargsCalls}`);
console.log(
  table([
    ["command", "mean", "± σ", "user", "sys", "per file", "peak RSS", "total growth", "loop ÷ this"],
    ...manyCmds.map((c) => [
      c.name,
      fmtS(c.result.mean),
      fmtS(c.result.stddev),
      fmtS(c.result.user),
      fmtS(c.result.system),
      fmtS(c.result.perFile),
      fmtKiB(c.result.peakRss?.medianKiB),
      fmtB(manyChecks[c.id].totalGrowth),
      fmtX(loop / c.result.mean),
    ]),
  ]),
);
console.log();
console.log(`goal: large file, abilink ≤ 1.5× patchelf: ${goals.largeTime.met ? "met" : "NOT met"} (${fmtX(goals.largeTime.ratio)}; --in-place ${fmtX(goals.largeTimeInPlace.ratio)})`);
console.log(
  `goal: memory independent of file size: abilink ${memory.map((m) => `${m.id} ${fmtKiB(m.abilink?.medianKiB)}`).join(", ")}; ` +
    `patchelf ${memory.map((m) => `${m.id} ${fmtKiB(m.patchelf?.medianKiB)}`).join(", ")}; node -e 0 ${fmtKiB(nodeRss?.medianKiB)}`,
);
console.log(`goal: large file growth ≤ patchelf's: ${goals.largeGrowth.met ? "met" : "NOT met"} (${fmtB(goals.largeGrowth.abilink)} vs ${fmtB(goals.largeGrowth.patchelf)})`);
console.log(`goal: many files, abilink ≥ 3× faster: ${goals.manyTime.met ? "met" : "NOT met"} (${fmtX(goals.manyTime.ratio)}; --in-place ${fmtX(ratios.manyPatchelfLoopOverAbilinkInPlace)}; --jobs 1 ${fmtX(ratios.manyPatchelfLoopOverAbilinkJobs1)}; --no-fsync ${fmtX(ratios.manyPatchelfLoopOverAbilinkNoFsync)})`);
console.log(
  `goal: many files growth ≤ patchelf's: ${goals.manyGrowth.met ? "met" : "NOT met"} (${fmtB(goals.manyGrowth.abilink)} vs ${fmtB(goals.manyGrowth.patchelf)}; ` +
    `files where abilink grew more: ${manyChecks.growthComparison.abilinkGrewMore})`,
);
console.log(`load average start ${env.loadavgStart.join(" ")}, end ${env.loadavgEnd.join(" ")}`);

fs.writeFileSync(
  outJson,
  JSON.stringify(
    {
      env,
      options: opts,
      large: {
        ...large,
        checks: largeChecks,
        commands: [...largeCmds, ...contextCmds].map((c) => ({ id: c.id, name: c.name, command: c.cmd, prepare: largeCmds.includes(c) ? prepLarge : null, runs: opts.runs, ...c.result })),
        memory,
        nodeStartupRss: nodeRss,
        syscalls: largeSyscalls,
      },
      many: {
        runpath: MANY_RUNPATH,
        fileSet: {
          rule: "regular files under the roots (recursive, /usr/lib/debug skipped), ELF magic, e_type ET_EXEC or ET_DYN, one per inode, in walk order; dropped if abilink --dry-run or patchelf --output refuses them",
          ...census,
          examined,
          usable: usable.length,
          count: set.length,
          repeatedCopies: repeats,
          exec: set.filter((s) => s.type === "EXEC").length,
          dyn: set.filter((s) => s.type === "DYN").length,
          totalBytes: setBytes,
          largest: [...set].sort((a, b) => b.bytes - a.bytes).slice(0, 5).map((s) => ({ file: s.file, bytes: s.bytes })),
          listFile: listRel,
          listBytes,
          xargsCalls,
          dropped: dropped.length,
          dropReasons: reasons(),
          droppedFiles: dropped,
          patchelfWarnings,
          abilinkPlans: {
            fitsInPlace: set.filter((s) => s.abilinkFitsInPlace).length,
            unchanged: set.filter((s) => !s.abilinkChanged).length,
          },
        },
        checks: manyChecks,
        commands: manyCmds.map((c) => ({ id: c.id, name: c.name, command: c.cmd, prepare: prepMany, runs: opts.manyRuns, ...c.result })),
        syscalls: manySyscalls,
      },
      ratios,
      goals,
    },
    null,
    2,
  ) + "\n",
);
console.log(`wrote ${path.relative(repo, outJson)}`);
