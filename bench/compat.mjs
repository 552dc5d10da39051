#!/usr/bin/env node
// Benchmark: one `abilink compat` call over every dynamically linked ELF program directly in
// a bin directory, against `ldd -r` run once per program from an sh while-read loop (the
// check users reach for today against "undefined symbol" problems). Not a test: it
// measures, compares the verdicts, prints a summary and writes
// bench/results/compat-<date>.json (or BENCH_OUT).
//
//   node bench/compat.mjs                     # /usr/bin (dist/ must be built)
//   node bench/compat.mjs --runs 5 [DIR]
//
// File set: regular files (not symlinks) directly in DIR that start with the ELF magic, have
// e_type ET_EXEC or ET_DYN and a PT_INTERP program header. The set is chosen without
// abilink. ldd runs the dynamic loader on each file (trace mode, LD_BIND_NOW); abilink
// executes nothing. Timing: alternating rounds (timeAlternating in lib.mjs: one warm-up
// round, then --runs rounds, medians), GNU time for user/sys/peak RSS. Scratch files:
// bench/results/compat-*.tmp (git-ignored) and a temporary directory for the positive
// control, removed at the end.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchArgs, buildDemoPair, die, findGnuTime, firstLine, fmtKiB, fmtS, have, machineInfo, median, printFloorAndLoad, q, repo, resultsDir, sh, timeAlternating } from "./lib.mjs";

const listFile = path.join(resultsDir, "compat-files.tmp");
const listRel = path.relative(repo, listFile);
const today = new Date().toISOString().slice(0, 10);
const outJson = process.env.BENCH_OUT ? path.resolve(process.env.BENCH_OUT) : path.join(resultsDir, `compat-${today}.json`);

// ---------------------------------------------------------------- arguments

const { values: args, positionals } = benchArgs(
  "usage: node bench/compat.mjs [--runs N] [--single-runs N] [DIR]\n" +
    "  default DIR: /usr/bin; runs: 5 alternating rounds after one warm-up round (all files),\n" +
    "  11 for one program (DIR/ls, else the first file)\n" +
    "  output: bench/results/compat-YYYY-MM-DD.json (BENCH_OUT=FILE to change)\n",
  { runs: 5, "single-runs": 11 },
);
const dir = fs.realpathSync(positionals.at(-1) ?? "/usr/bin");

// ---------------------------------------------------------------- helpers

const fmtMs = (s) => `${(s * 1000).toFixed(2)} ms`;
const la = () => os.loadavg().map((x) => Number(x.toFixed(2)));

/** { type, machine, interp } of an ELF file, read without abilink; null if not ELF or unreadable. */
function elfInfo(file) {
  let fd;
  try {
    fd = fs.openSync(file, "r");
    const h = Buffer.alloc(64);
    if (fs.readSync(fd, h, 0, 64, 0) < 52 || h.readUInt32BE(0) !== 0x7f454c46) return null;
    const c64 = h[4] === 2;
    const le = h[5] === 1;
    const u16 = (b, o) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b, o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const word = (b, o) => (c64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o));
    const phoff = word(h, c64 ? 32 : 28);
    const phentsize = u16(h, c64 ? 54 : 42);
    const phnum = u16(h, c64 ? 56 : 44);
    const ph = Buffer.alloc(phentsize * phnum);
    fs.readSync(fd, ph, 0, ph.length, phoff);
    let interp = null;
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (u32(ph, o) !== 3) continue; // PT_INTERP
      const off = word(ph, o + (c64 ? 8 : 4));
      const size = word(ph, o + (c64 ? 32 : 16));
      const b = Buffer.alloc(Math.min(size, 4096));
      fs.readSync(fd, b, 0, b.length, off);
      interp = b.toString("latin1").replace(/\0.*$/s, "");
    }
    return { type: u16(h, 16), machine: u16(h, 18), interp };
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

// What ldd -r prints when something would fail or warn at load time.
const LDD_PROBLEM = [
  ["undefined symbol", /^undefined symbol: /],
  ["library not found", /=> not found$/],
  ["version not found", /version `[^']*' not found/],
  ["different size", /has different size in shared object/],
  ["no version information", /no version information available/],
];
function lddProblems(text) {
  const lines = text.split("\n").filter((l) => LDD_PROBLEM.some(([, re]) => re.test(l.trim())));
  const kinds = {};
  for (const l of lines) for (const [k, re] of LDD_PROBLEM) if (re.test(l.trim())) kinds[k] = (kinds[k] ?? 0) + 1;
  return { lines: lines.map((l) => l.trim()), kinds };
}

// ---------------------------------------------------------------- tools

if (!fs.existsSync(path.join(repo, "dist", "cli", "main.js"))) die("dist/ is missing; run `npm run build` first");
for (const t of ["ldd", "xargs"]) if (!have(t)) die(`${t} is required`);
const gnuTime = findGnuTime();

const env = {
  ...machineInfo(),
  ldd: firstLine("ldd --version"),
  glibcPackage: firstLine("dpkg-query -W -f '${Package} ${Version}' libc6 2>/dev/null"),
  gcc: firstLine("gcc --version"),
  gnuTime,
  argMax: Number(firstLine("getconf ARG_MAX")),
  loadavgStart: la(),
};
console.log(`abilink compat benchmark, ${env.date}`);
console.log(`${env.cpus} cores (${env.cpuModel}), ${env.kernel}, node ${env.node}, ${env.ldd}, abilink ${env.abilink} at ${env.gitHead}`);

// ---------------------------------------------------------------- file set

const census = { regular: 0, symlinks: 0, notElf: 0, elfNoInterp: [], elfOtherType: [], byType: {}, interpreters: {} };
const files = [];
for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
  if (e.isSymbolicLink()) {
    census.symlinks++;
    continue;
  }
  if (!e.isFile()) continue;
  census.regular++;
  const p = path.join(dir, e.name);
  const info = elfInfo(p);
  if (!info) {
    census.notElf++;
    continue;
  }
  if (info.type !== 2 && info.type !== 3) census.elfOtherType.push(e.name);
  else if (info.interp === null) census.elfNoInterp.push(e.name);
  else {
    files.push(p);
    const t = info.type === 2 ? "ET_EXEC" : "ET_DYN";
    census.byType[t] = (census.byType[t] ?? 0) + 1;
    census.interpreters[info.interp] = (census.interpreters[info.interp] ?? 0) + 1;
  }
}
if (files.length === 0) die(`no dynamically linked programs in ${dir}`);
if (files.some((f) => f.includes("\n"))) die("a file name contains a newline");
fs.writeFileSync(listFile, files.join("\n") + "\n");
const totalBytes = files.reduce((a, f) => a + fs.statSync(f).size, 0);
console.log(
  `${dir}: ${files.length} dynamically linked ELF programs (${(totalBytes / 2 ** 20).toFixed(0)} MiB; ` +
    `${Object.entries(census.byType).map(([k, v]) => `${v} ${k}`).join(", ")}); skipped ${census.symlinks} symlinks, ` +
    `${census.notElf} non-ELF files, ${census.elfNoInterp.length} ELF files without PT_INTERP (static), ${census.elfOtherType.length} other ELF types`,
);

// One abilink call for all files: check that xargs really makes a single call.
const xargsCalls = Number((sh(`xargs -a ${q(listRel)} -d '\\n' sh -c 'echo "$#"' x | wc -l`).stdout || "0").trim());
if (xargsCalls !== 1) die(`xargs would split the list into ${xargsCalls} calls`);

// The loader ldd would pick for these files (one for all, else no loader-only reference row).
const interps = Object.keys(census.interpreters);
const loader = interps.length === 1 && fs.existsSync(interps[0]) ? interps[0] : null;

// ---------------------------------------------------------------- commands

const commands = [
  {
    id: "abilink",
    name: "abilink compat, one call",
    // xargs exits 123 when abilink exits 12 (a problem was found); the check pass below
    // makes sure every file was checked and nothing was unreadable.
    cmd: `xargs -a ${listRel} -d '\\n' node bin/abilink compat > /dev/null 2>&1`,
    okExit: [0, 123],
  },
  {
    id: "ldd",
    name: "ldd -r per file, sh while-read loop",
    cmd: `while IFS= read -r f; do ldd -r "$f"; done < ${listRel} > /dev/null 2>&1`,
    okExit: [0, 1],
  },
  {
    id: "ldd-one-call",
    name: "ldd -r, all files in one call (reference)",
    cmd: `xargs -a ${listRel} -d '\\n' ldd -r > /dev/null 2>&1`,
    okExit: [0, 123],
  },
];
if (loader) {
  commands.push({
    id: "loader",
    name: "ld.so trace per file, no ldd script (reference)",
    // What ldd runs for each file after its `--version` and `--verify` probes.
    cmd: `while IFS= read -r f; do LD_TRACE_LOADED_OBJECTS=1 LD_WARN=yes LD_BIND_NOW=yes ${q(loader)} "$f"; done < ${listRel} > /dev/null 2>&1`,
    okExit: [0, 1, 127],
  });
}

// ---------------------------------------------------------------- checks

console.log("checking verdicts (abilink compat --json once, ldd -r once per file)…");
const checks = {};
const t0 = process.hrtime.bigint();
const aj = spawnSync("sh", ["-c", `xargs -a ${listRel} -d '\\n' node bin/abilink compat --json`], { cwd: repo, encoding: "utf8", maxBuffer: 1 << 30 });
const ajSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
const at = spawnSync("sh", ["-c", `xargs -a ${listRel} -d '\\n' node bin/abilink compat`], { cwd: repo, encoding: "utf8", maxBuffer: 1 << 30 });
const reports = aj.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
const byPath = new Map(reports.map((r) => [r.path, r]));
const missing = files.filter((f) => !byPath.has(f));
if (missing.length) die(`abilink compat --json gave no report for ${missing.length} files, e.g. ${missing[0]}`);
if (reports.length !== files.length) die(`abilink compat --json gave ${reports.length} reports for ${files.length} files`);
if (aj.stderr.trim()) console.log(`abilink stderr: ${aj.stderr.trim().split("\n").slice(0, 5).join(" | ")}`);
const warningSubjects = {};
for (const r of reports) for (const p of r.problems) if (p.severity === "warning") warningSubjects[p.subject] = (warningSubjects[p.subject] ?? 0) + 1;
const abilinkFlagged = reports.filter((r) => !r.ok).map((r) => r.path);
checks.abilink = {
  reports: reports.length,
  jsonSeconds: ajSeconds,
  exitStatusJson: aj.status, // through xargs: 0 all ok, 123 some call exited 1-125
  exitStatusText: at.status,
  stderrLines: aj.stderr.split("\n").filter(Boolean),
  textReportLines: at.stdout.split("\n").filter((l) => l && !l.startsWith(" ")).length,
  ok: reports.filter((r) => r.ok).length,
  flagged: abilinkFlagged.length,
  withWarnings: reports.filter((r) => r.problems.some((p) => p.severity === "warning")).length,
  warnings: reports.reduce((a, r) => a + r.problems.filter((p) => p.severity === "warning").length, 0),
  warningSubjects: Object.fromEntries(Object.entries(warningSubjects).sort((a, b) => b[1] - a[1])),
  loadedObjects: { median: median(reports.map((r) => r.loaded.length)), max: Math.max(...reports.map((r) => r.loaded.length)) },
};
// -v shows the toolchain weak references compat hides by default; count them on a few files.
{
  const sample = files.slice(0, 20);
  const v = spawnSync("node", ["bin/abilink", "compat", "--json", "-v", ...sample], { cwd: repo, encoding: "utf8", maxBuffer: 1 << 28 });
  const subj = {};
  for (const l of v.stdout.split("\n").filter(Boolean)) for (const p of JSON.parse(l).problems) subj[p.subject] = (subj[p.subject] ?? 0) + 1;
  checks.abilink.verboseSample = { files: sample.length, warningSubjects: subj };
}

const lddFlagged = [];
const lddPerFile = {};
const lddKinds = {};
const lddExit = {};
for (const f of files) {
  const r = spawnSync("ldd", ["-r", f], { encoding: "utf8", maxBuffer: 1 << 26 });
  const text = (r.stdout || "") + (r.stderr || "");
  const p = lddProblems(text);
  lddExit[r.status] = (lddExit[r.status] ?? 0) + 1;
  for (const [k, n] of Object.entries(p.kinds)) lddKinds[k] = (lddKinds[k] ?? 0) + n;
  // "no version information available" is a warning to ld.so too; it does not stop a program.
  if (p.lines.some((l) => !/no version information available/.test(l))) lddFlagged.push(f);
  if (p.lines.length) lddPerFile[f] = { exit: r.status, problemLines: p.lines, output: text.split("\n").slice(0, 40) };
}
checks.ldd = { files: files.length, exitStatus: lddExit, flagged: lddFlagged.length, problemLineKinds: lddKinds, filesWithProblemLines: lddPerFile };

const aSet = new Set(abilinkFlagged);
const lSet = new Set(lddFlagged);
const disagreements = files
  .filter((f) => aSet.has(f) !== lSet.has(f))
  .map((f) => {
    const r = byPath.get(f);
    const text = spawnSync("node", ["bin/abilink", "compat", f], { cwd: repo, encoding: "utf8" });
    const l = spawnSync("ldd", ["-r", f], { encoding: "utf8" });
    return {
      file: f,
      abilinkFlags: aSet.has(f),
      lddFlags: lSet.has(f),
      abilinkProblems: r.problems,
      abilinkOutput: text.stdout.split("\n").filter(Boolean),
      lddOutput: ((l.stdout || "") + (l.stderr || "")).split("\n").filter(Boolean),
    };
  });
checks.agreement = {
  files: files.length,
  bothOk: files.filter((f) => !aSet.has(f) && !lSet.has(f)).length,
  bothFlag: files.filter((f) => aSet.has(f) && lSet.has(f)).length,
  onlyAbilink: disagreements.filter((d) => d.abilinkFlags).map((d) => d.file),
  onlyLdd: disagreements.filter((d) => d.lddFlags).map((d) => d.file),
  disagreements,
};

// Positive control: a program whose library lost a symbol and grew a copied array. Both
// tools must flag it, or agreement on a clean /usr/bin would mean little.
{
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "abilink-bench-compat-"));
  try {
    const d = buildDemoPair(tmp);
    if (d.error) checks.control = { skipped: d.error };
    else {
      const a = spawnSync("node", ["bin/abilink", "compat", d.app, "--lib", d.v2], { cwd: repo, encoding: "utf8" });
      const l = spawnSync("ldd", ["-r", d.app], { encoding: "utf8", env: { ...process.env, LD_LIBRARY_PATH: d.v2Dir } });
      const lt = (l.stdout || "") + (l.stderr || "");
      const rel = (s) => s.split(tmp).join("TMP");
      checks.control = {
        what: "app linked against libdemo.so.1 v1 (calls demo_old, copy-relocates demo_table[4]), checked against v2 (no demo_old, demo_table[8])",
        abilinkCommand: "node bin/abilink compat TMP/app --lib TMP/v2/libdemo.so.1",
        abilinkExit: a.status,
        abilinkOutput: rel(a.stdout).split("\n").filter(Boolean),
        lddCommand: "LD_LIBRARY_PATH=TMP/v2 ldd -r TMP/app",
        lddExit: l.status,
        lddOutput: rel(lt).replace(/\(0x[0-9a-f]+\)/g, "(0x…)").split("\n").filter(Boolean),
        abilinkFlags: a.status === 12,
        lddFlags: lddProblems(lt).lines.length > 0,
      };
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// Fault injection at the scale of the whole set: a copy of a system library with one name
// in .dynstr spoiled (its first byte changed, so that no tail-merged string changes), put
// first in the search (abilink --lib DIR; ldd with LD_LIBRARY_PATH=DIR), then every program
// checked by both. The spoiled symbol no longer matches its lookups (its hash in the hash
// tables is unchanged, but the name comparison fails), and a spoiled version name no longer
// matches the requirement. Both tools must flag the same programs.
const INJECT = [
  { lib: "libpcre2-8.so.0", name: "pcre2_match_8", what: "unversioned symbol, needed mostly through libselinux.so.1" },
  { lib: "liblzma.so.5", name: "lzma_code", what: "symbol of version XZ_5.0" },
  { lib: "liblzma.so.5", name: "XZ_5.0", what: "version name XZ_5.0 (definition)" },
];
function findLib(soname) {
  for (const d of ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"]) {
    const p = path.join(d, soname);
    if (fs.existsSync(p)) return fs.realpathSync(p);
  }
  return null;
}
checks.injected = [];
for (const inj of INJECT) {
  const src = findLib(inj.lib);
  if (!src) {
    checks.injected.push({ ...inj, skipped: `${inj.lib} not found` });
    continue;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "abilink-bench-inject-"));
  try {
    const buf = fs.readFileSync(src);
    const needle = Buffer.from(`\0${inj.name}\0`, "latin1");
    const at0 = buf.indexOf(needle);
    if (at0 < 0 || buf.indexOf(needle, at0 + 1) >= 0) {
      checks.injected.push({ ...inj, source: src, skipped: `"${inj.name}" is not exactly one string in the file` });
      continue;
    }
    buf[at0 + 1] = 0x51; // 'Q'
    const spoiled = "Q" + inj.name.slice(1);
    fs.writeFileSync(path.join(tmp, inj.lib), buf, { mode: 0o755 });
    const a = spawnSync("sh", ["-c", `xargs -a ${listRel} -d '\\n' node bin/abilink compat --json --lib ${q(tmp)}`], { cwd: repo, encoding: "utf8", maxBuffer: 1 << 30 });
    const rs = a.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    if (rs.length !== files.length) die(`injection ${inj.name}: abilink gave ${rs.length} reports for ${files.length} files`);
    const aFlag = new Set(rs.filter((r) => !r.ok).map((r) => r.path));
    const kinds = {};
    for (const r of rs) for (const p of r.problems) if (p.severity === "error") kinds[p.kind] = (kinds[p.kind] ?? 0) + 1;
    const lFlag = new Set();
    const lKinds = {};
    const lOut = {};
    for (const f of files) {
      const l = spawnSync("ldd", ["-r", f], { encoding: "utf8", maxBuffer: 1 << 26, env: { ...process.env, LD_LIBRARY_PATH: tmp } });
      const text = ((l.stdout || "") + (l.stderr || "")).split(tmp).join("TMP");
      const p = lddProblems(text);
      for (const [k, n] of Object.entries(p.kinds)) lKinds[k] = (lKinds[k] ?? 0) + n;
      if (p.lines.some((x) => !/no version information available/.test(x))) lFlag.add(f);
      lOut[f] = text;
    }
    const diff = files.filter((f) => aFlag.has(f) !== lFlag.has(f));
    const rel = (s) => s.split(tmp).join("TMP");
    checks.injected.push({
      ...inj,
      source: src,
      spoiledAs: spoiled,
      abilinkCommand: `xargs -a ${listRel} -d '\\n' node bin/abilink compat --json --lib TMP`,
      lddCommand: `LD_LIBRARY_PATH=TMP ldd -r FILE (once per file)`,
      abilinkStderr: rel(a.stderr).split("\n").filter(Boolean).slice(0, 20),
      abilinkFlagged: aFlag.size,
      abilinkErrorKinds: kinds, // problems of severity "error", summed over programs
      lddFlagged: lFlag.size,
      lddProblemLineKinds: lKinds, // ldd -r problem lines, summed over programs
      bothFlag: files.filter((f) => aFlag.has(f) && lFlag.has(f)).length,
      disagreements: diff.map((f) => ({
        file: f,
        abilinkFlags: aFlag.has(f),
        lddFlags: lFlag.has(f),
        abilinkProblems: rel(JSON.stringify(rs.find((r) => r.path === f).problems)),
        lddOutput: lOut[f].split("\n").filter(Boolean).map((x) => x.replace(/\(0x[0-9a-f]+\)/g, "(0x…)")),
      })),
      exampleAbilink: (() => {
        const r = rs.find((x) => !x.ok);
        return r ? { path: r.path, errors: JSON.parse(rel(JSON.stringify(r.problems.filter((p) => p.severity === "error")))) } : null;
      })(),
      exampleLdd: (() => {
        const f = files.find((x) => lFlag.has(x));
        return f ? { path: f, problemLines: lddProblems(lOut[f]).lines } : null;
      })(),
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

console.log(
  `checks: abilink reported on ${reports.length}/${files.length} files, flagged ${checks.abilink.flagged} ` +
    `(${checks.abilink.withWarnings} with weak-reference warnings only); ldd -r flagged ${checks.ldd.flagged}; ` +
    `agree on ${files.length - disagreements.length}/${files.length}` +
    (disagreements.length ? `; DISAGREE: ${disagreements.map((d) => `${d.file} (${d.abilinkFlags ? "abilink" : "ldd"} only)`).join(", ")}` : "") +
    `; control flagged by abilink: ${checks.control.abilinkFlags ?? "-"}, by ldd: ${checks.control.lddFlags ?? "-"}`,
);
for (const i of checks.injected) {
  console.log(
    i.skipped
      ? `injected ${i.lib} ${i.name}: skipped (${i.skipped})`
      : `injected ${i.lib} ${i.name} -> ${i.spoiledAs}: abilink flags ${i.abilinkFlagged}, ldd -r flags ${i.lddFlagged}, both ${i.bothFlag}` +
          (i.disagreements.length ? `; DISAGREE on ${i.disagreements.length}: ${i.disagreements.slice(0, 5).map((d) => `${d.file} (${d.abilinkFlags ? "abilink" : "ldd"} only)`).join(", ")}` : ""),
  );
}

// ---------------------------------------------------------------- timing

console.log(`timing ${commands.length} commands, ${args.runs} alternating rounds after 1 warm-up round…`);
const timing = timeAlternating(commands, args.runs, {
  gnuTime,
  scratch: path.join(resultsDir, "compat-time.tmp"),
  onRun: (c, r, round) => process.stdout.write(`  ${round < 0 ? "warm-up" : `round ${round + 1}`}: ${c.id} ${fmtS(r.wall)}\n`),
});
for (const c of commands) c.result = { ...timing[c.id], perFileWall: timing[c.id].medianWall / files.length };

// One program, as a user checks one binary: abilink's fixed cost (Node) against one ldd.
const single = files.includes(path.join(dir, "ls")) ? path.join(dir, "ls") : files[0];
const singleCommands = [
  { id: "abilink", name: `abilink compat ${single}`, cmd: `node bin/abilink compat ${q(single)} > /dev/null 2>&1`, okExit: [0, 12] },
  { id: "ldd", name: `ldd -r ${single}`, cmd: `ldd -r ${q(single)} > /dev/null 2>&1`, okExit: [0, 1] },
];
console.log(`timing one program (${single}), ${args["single-runs"]} alternating rounds…`);
const singleTiming = timeAlternating(singleCommands, args["single-runs"], { gnuTime, scratch: path.join(resultsDir, "compat-time.tmp") });

// Node's start-up, for context (the same harness: GNU time + sh -c).
const floor = timeAlternating(
  [
    { id: "node", cmd: "node -e 0" },
    { id: "sh", cmd: ":" },
  ],
  5,
  { gnuTime, scratch: path.join(resultsDir, "compat-time.tmp") },
);

// ---------------------------------------------------------------- summary

const byId = Object.fromEntries(commands.map((c) => [c.id, c]));
const base = byId.abilink.result.medianWall;
const ratios = Object.fromEntries(commands.filter((c) => c.id !== "abilink").map((c) => [`${c.id}OverAbilink`, c.result.medianWall / base]));
env.loadavgEnd = la();

console.log();
console.log(`${files.length} files; medians of ${args.runs} alternating rounds`);
for (const c of commands) {
  const r = c.result;
  console.log(
    `${c.name.padEnd(50)} ${fmtS(r.medianWall).padStart(9)} (${fmtS(r.minWall)} … ${fmtS(r.maxWall)})  per file ${fmtMs(r.perFileWall).padStart(9)}  ` +
      `user ${fmtS(r.medianUser)} sys ${fmtS(r.medianSys)}  peak RSS ${fmtKiB(r.medianMaxRssKiB)}  ${(r.medianWall / base).toFixed(2)}x`,
  );
}
for (const c of singleCommands) {
  const r = singleTiming[c.id];
  console.log(
    `${c.name.padEnd(50)} ${fmtS(r.medianWall).padStart(9)} (${fmtS(r.minWall)} … ${fmtS(r.maxWall)})  user ${fmtS(r.medianUser)}  ` +
      `peak RSS ${fmtKiB(r.medianMaxRssKiB)}  ${(r.medianWall / singleTiming.abilink.medianWall).toFixed(2)}x`,
  );
}
printFloorAndLoad(floor, env);

fs.writeFileSync(
  outJson,
  JSON.stringify(
    {
      env,
      dir,
      fileSet: {
        rule: "regular files directly in dir (not symlinks), ELF magic, e_type ET_EXEC or ET_DYN, with a PT_INTERP program header",
        count: files.length,
        totalBytes,
        listFile: listRel,
        xargsCalls,
        loader,
        ...census,
      },
      method: "alternating rounds: 1 warm-up round, then `runs` rounds each running every command once (order rotated); wall time around `GNU time -f '%U %S %M' sh -c CMD`; medians",
      runs: args.runs,
      commands: commands.map((c) => ({ id: c.id, name: c.name, command: c.cmd, ...c.result })),
      ratios,
      singleProgram: {
        file: single,
        runs: args["single-runs"],
        commands: singleCommands.map((c) => ({ id: c.id, command: c.cmd, ...singleTiming[c.id] })),
        lddOverAbilink: singleTiming.ldd.medianWall / singleTiming.abilink.medianWall,
      },
      floor: { nodeStartup: floor.node.medianWall, shOnly: floor.sh.medianWall, nodeStartupMaxRssKiB: floor.node.medianMaxRssKiB },
      checks,
    },
    null,
    2,
  ) + "\n",
);
console.log(`wrote ${path.relative(repo, outJson)}`);
