#!/usr/bin/env node
// Benchmark: one `abilink hash` call over every shared library in a library directory,
// against `llvm-ifs --output-ifs` run once per library and against
// `nm -D --with-symbol-versions FILE | sha256sum` run once per library. Not a test: it
// measures, checks a little, prints a summary and writes bench/results/hash.json.
//
//   node bench/hash.mjs                         # /usr/lib/x86_64-linux-gnu (dist/ must be built)
//   node bench/hash.mjs --runs 5 --baseline-runs 3 --mem-runs 3 DIR
//
// File set: regular files (not symlinks) directly in DIR (no subdirectories) whose name
// matches *.so or *.so.*, that start with the ELF magic and have e_type ET_DYN. The set is
// chosen without abilink. Timing uses hyperfine (--warmup 1 --ignore-failure). Peak RSS
// comes from GNU time (/usr/bin/time -f %M). No dependencies beyond Node.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchArgs, die, elfType, findGnuTime, firstLine, fmtKiB, fmtS, have, hyperfineResult, machineInfo, median, q, repo, resultsDir, sh } from "./lib.mjs";
// bench/results/*.tmp is git-ignored.
const listFile = path.join(resultsDir, "hash-files.tmp");
const listRel = path.relative(repo, listFile);
const outJson = path.join(resultsDir, "hash.json");

// ---------------------------------------------------------------- arguments

const { values: args, positionals } = benchArgs(
  "usage: node bench/hash.mjs [--runs N] [--baseline-runs N] [--mem-runs N] [DIR]\n" +
    "  default DIR: /usr/lib/x86_64-linux-gnu; runs: abilink 5, per-file loops 3; memory runs 3\n",
  { runs: 5, "baseline-runs": 3, "mem-runs": 3 },
);
const opts = { runs: args.runs, baselineRuns: args["baseline-runs"], memRuns: args["mem-runs"] };
const dirArg = positionals.at(-1) ?? "/usr/lib/x86_64-linux-gnu";
const dir = fs.realpathSync(dirArg);

// ---------------------------------------------------------------- helpers

const fmtMs = (s) => `${(s * 1000).toFixed(2)} ms`;

// ---------------------------------------------------------------- tools

if (!fs.existsSync(path.join(repo, "dist", "cli", "main.js"))) die("dist/ is missing; run `npx tsc -p tsconfig.json` first");
if (!have("hyperfine")) die("hyperfine is required");
if (!have("nm")) die("nm (binutils) is required");

// Debian ships llvm-ifs as llvm-ifs-NN (package llvm-NN, pulled in by `llvm`).
function findLlvmIfs() {
  if (have("llvm-ifs")) return "llvm-ifs";
  const cands = [];
  for (const d of ["/usr/bin", "/usr/local/bin"]) {
    try {
      for (const n of fs.readdirSync(d)) if (/^llvm-ifs-\d+$/.test(n)) cands.push(path.join(d, n));
    } catch {}
  }
  try {
    for (const n of fs.readdirSync("/usr/lib")) {
      const p = path.join("/usr/lib", n, "bin", "llvm-ifs");
      if (/^llvm-\d+$/.test(n) && fs.existsSync(p)) cands.push(p);
    }
  } catch {}
  const ver = (p) => Number((p.match(/(\d+)(?:\/bin\/llvm-ifs)?$/) || [0, 0])[1]);
  cands.sort((a, b) => ver(b) - ver(a));
  return cands[0] ?? null;
}
const llvmIfs = findLlvmIfs();
if (!llvmIfs) die("llvm-ifs not found (apt-get install -y llvm)");

const gnuTime = findGnuTime();

const env = {
  ...machineInfo(),
  llvmIfs,
  llvmIfsVersion: firstLine(`${q(llvmIfs)} --version 2>&1 | sed -n 's/.*LLVM version/LLVM version/p'`),
  llvmIfsPackage: firstLine(`dpkg -S $(readlink -f $(command -v ${q(llvmIfs)})) 2>/dev/null | cut -d: -f1`),
  nm: firstLine("nm --version"),
  hyperfine: firstLine("hyperfine --version"),
  gnuTime,
  argMax: Number(firstLine("getconf ARG_MAX")),
  loadavgStart: os.loadavg(),
};

console.log(`abilink hash benchmark, ${env.date}`);
console.log(
  `${env.cpus} cores (${env.cpuModel}), ${env.kernel}, node ${env.node}, ${llvmIfs} (${env.llvmIfsVersion}), ` +
    `${env.nm}, ${env.hyperfine}`,
);

// ---------------------------------------------------------------- file set

const census = { soNamed: 0, soNamedSymlinks: 0, soNamedNotElf: [], soNamedElfNotDyn: [] };
const files = [];
for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
  if (!/\.so(\.|$)/.test(e.name)) continue;
  if (e.isSymbolicLink()) {
    census.soNamedSymlinks++;
    continue;
  }
  if (!e.isFile()) continue;
  census.soNamed++;
  const p = path.join(dir, e.name);
  const t = elfType(p);
  if (t === null) census.soNamedNotElf.push(e.name);
  else if (t !== 3) census.soNamedElfNotDyn.push(e.name);
  else files.push(p);
}
if (files.length === 0) die(`no shared libraries in ${dir}`);
if (files.some((f) => f.includes("\n"))) die("a file name contains a newline");
fs.writeFileSync(listFile, files.join("\n") + "\n");
const totalBytes = files.reduce((a, f) => a + fs.statSync(f).size, 0);
const bySize = [...files].sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
console.log(
  `${dir}: ${files.length} shared libraries (${(totalBytes / 2 ** 20).toFixed(0)} MiB); ` +
    `*.so* entries skipped: ${census.soNamedSymlinks} symlinks, ${census.soNamedNotElf.length} not ELF` +
    `${census.soNamedNotElf.length ? ` (${census.soNamedNotElf.join(", ")})` : ""}, ${census.soNamedElfNotDyn.length} ELF but not ET_DYN`,
);

// ---------------------------------------------------------------- commands

// One abilink call for all files. xargs passes the list without word splitting; check that
// it really makes a single call (the list is far below xargs' limit here).
const xargsCalls = Number(
  (sh(`xargs -a ${q(listRel)} -d '\\n' sh -c 'echo "$#"' x | wc -l`).stdout || "0").trim(),
);
if (xargsCalls !== 1) die(`xargs would split the list into ${xargsCalls} calls; shorten the list`);
const listBytes = files.reduce((a, f) => a + Buffer.byteLength(f) + 1, 0);

const ifsQ = q(llvmIfs);
const commands = [
  {
    id: "abilink",
    name: "abilink hash (one call, all files)",
    cmd: `xargs -a ${listRel} -d '\\n' node bin/abilink hash > /dev/null 2>&1`,
    runs: opts.runs,
  },
  {
    id: "llvm-ifs",
    name: "llvm-ifs per file (xargs + sh -c)",
    // `|| :` matters: llvm-ifs exits 255 on the files it refuses, and xargs stops reading
    // its input at the first command that exits 255 (it would skip the rest of the list).
    cmd: `xargs -a ${listRel} -d '\\n' -n1 sh -c '${ifsQ} --input-format=ELF --output-ifs=- "$0" > /dev/null || :' > /dev/null 2>&1`,
    runs: opts.baselineRuns,
  },
  {
    id: "llvm-ifs-loop",
    name: "llvm-ifs per file (one sh while-read loop)",
    // No shell process per file, so this is the cheapest way to run llvm-ifs once per file.
    cmd: `while IFS= read -r f; do ${ifsQ} --input-format=ELF --output-ifs=- "$f"; done < ${listRel} > /dev/null 2>&1`,
    runs: opts.baselineRuns,
  },
  {
    id: "nm",
    name: "nm -D --with-symbol-versions | sha256sum per file",
    cmd: `xargs -a ${listRel} -d '\\n' -n1 sh -c 'nm -D --with-symbol-versions "$0" | sha256sum' > /dev/null 2>&1`,
    runs: opts.baselineRuns,
  },
];

// ---------------------------------------------------------------- checks

const checks = {};
{
  // abilink: run twice, same output; count rejections (stderr lines) and the exit status.
  const run = () => spawnSync("node", ["bin/abilink", "hash", ...files], { cwd: repo, encoding: "utf8", maxBuffer: 1 << 28 });
  const a = run();
  const b = run();
  const outLines = a.stdout.split("\n").filter(Boolean);
  const errLines = a.stderr.split("\n").filter(Boolean);
  const hashes = outLines.map((l) => l.split("  ")[0]);
  const hashedPaths = new Set(outLines.map((l) => l.slice(l.indexOf("  ") + 2)));
  checks.abilink = {
    exitStatus: [a.status, b.status],
    identicalOutputTwice: a.stdout === b.stdout && a.stderr === b.stderr,
    hashedFiles: outLines.length,
    wellFormedLines: outLines.filter((l) => /^abi1-[0-9a-df-np-sv-z]{32} {2}\S/.test(l)).length,
    distinctHashes: new Set(hashes).size,
    rejected: errLines.length,
    rejectedLines: errLines.slice(0, 50),
    missingFromOutput: files.filter((f) => !hashedPaths.has(f)),
  };
  fs.writeFileSync(path.join(resultsDir, "hash-out.tmp"), a.stdout);

  // llvm-ifs: sample output, and which files it refuses.
  const sample = files.find((f) => /\/libz\.so/.test(f)) ?? files[0];
  const s = spawnSync(llvmIfs, ["--input-format=ELF", "--output-ifs=-", sample], { encoding: "utf8" });
  const ifsFail = [];
  for (const f of files) {
    const r = spawnSync(llvmIfs, ["--input-format=ELF", "--output-ifs=-", f], { encoding: "utf8", maxBuffer: 1 << 28 });
    if (r.status !== 0) ifsFail.push({ file: f, status: r.status, error: (r.stderr || "").split("\n")[0].trim() });
  }
  checks.llvmIfs = {
    sampleFile: sample,
    sampleOk: s.status === 0 && s.stdout.startsWith("--- !ifs-v1"),
    sampleLines: s.stdout.split("\n").length,
    failed: ifsFail.length,
    failures: ifsFail,
  };

  // nm: which files give an error or a warning.
  const nmFail = [];
  for (const f of files) {
    const r = spawnSync("nm", ["-D", "--with-symbol-versions", f], { encoding: "utf8", maxBuffer: 1 << 28 });
    if (r.status !== 0 || r.stderr.trim()) nmFail.push({ file: f, status: r.status, error: r.stderr.split("\n")[0].trim() });
  }
  checks.nm = { failedOrWarned: nmFail.length, failures: nmFail };
}
console.log(
  `checks: abilink hashed ${checks.abilink.hashedFiles}/${files.length}, rejected ${checks.abilink.rejected}, ` +
    `exit ${checks.abilink.exitStatus.join("/")}, identical twice: ${checks.abilink.identicalOutputTwice}, ` +
    `distinct hashes ${checks.abilink.distinctHashes}; llvm-ifs sample ok: ${checks.llvmIfs.sampleOk}, ` +
    `llvm-ifs failed on ${checks.llvmIfs.failed}${checks.llvmIfs.failed ? ` (${checks.llvmIfs.failures.map((x) => path.basename(x.file)).join(", ")})` : ""}; ` +
    `nm errors/warnings on ${checks.nm.failedOrWarned}`,
);

// ---------------------------------------------------------------- timing

for (const c of commands) {
  const exp = path.join(resultsDir, `hash-hyperfine-${c.id}.tmp`);
  process.stdout.write(`timing ${c.name} (${c.runs} runs)… `);
  const r = spawnSync(
    "hyperfine",
    ["--warmup", "1", "--runs", String(c.runs), "--ignore-failure", "--style", "none", "--export-json", exp, c.cmd],
    { cwd: repo, encoding: "utf8" },
  );
  if (r.status !== 0) die(`hyperfine failed for ${c.id}: ${r.stderr}`);
  // xargs exits 124 when a command exited 255 and it stopped early; such a run did not
  // process every file and its time is meaningless.
  const h = hyperfineResult(exp, c.id, ": not every file was processed");
  c.result = { ...h, perFile: h.mean / files.length };
  console.log(`${fmtS(h.mean)}`);
}

// Peak RSS: the largest single process (GNU time / wait4). For the per-file loops that is
// the largest llvm-ifs / nm / sha256sum / xargs process, not a total.
function peakRss(cmd, n) {
  if (!gnuTime) return null;
  const tmp = path.join(resultsDir, "hash-time.tmp");
  const vals = [];
  for (let i = 0; i < n; i++) {
    spawnSync(gnuTime, ["-f", "%M", "-o", tmp, "sh", "-c", cmd], { cwd: repo });
    vals.push(Number(fs.readFileSync(tmp, "utf8").trim().split("\n").pop()));
  }
  fs.rmSync(tmp, { force: true });
  return { medianKiB: median(vals), runsKiB: vals };
}
for (const c of commands) c.result.peakRss = peakRss(c.cmd, c.id === "abilink" ? opts.memRuns : 1);

// Context: the largest files one at a time (one process each, one run, warm cache), and
// Node's start-up.
function wall(cmd, args) {
  const t = process.hrtime.bigint();
  spawnSync(cmd, args, { cwd: repo, stdio: "ignore" });
  return Number(process.hrtime.bigint() - t) / 1e9;
}
const largest = bySize.slice(0, 4).map((f) => ({
  file: f,
  bytes: fs.statSync(f).size,
  abilinkSeconds: wall("node", ["bin/abilink", "hash", f]),
  llvmIfsSeconds: wall(llvmIfs, ["--input-format=ELF", "--output-ifs=/dev/null", f]),
}));
const nodeStartup = median([0, 1, 2].map(() => wall("node", ["-e", "0"])));

// ---------------------------------------------------------------- summary

const byId = Object.fromEntries(commands.map((c) => [c.id, c]));
const base = byId.abilink.result.mean;
const ratios = {
  llvmIfsOverAbilink: byId["llvm-ifs"].result.mean / base,
  llvmIfsLoopOverAbilink: byId["llvm-ifs-loop"].result.mean / base,
  nmOverAbilink: byId.nm.result.mean / base,
};
// The goal is judged against the faster of the two llvm-ifs loops.
const goal = { target: 10, ratio: Math.min(ratios.llvmIfsOverAbilink, ratios.llvmIfsLoopOverAbilink) };
goal.met = goal.ratio >= goal.target;
env.loadavgEnd = os.loadavg();

console.log();
console.log(`${files.length} files; ratios are per file (= ratios of the totals, same file set)`);
for (const c of commands) {
  const r = c.result;
  console.log(
    `${c.name.padEnd(52)} ${fmtS(r.mean).padStart(10)} ± ${fmtS(r.stddev).padEnd(9)} per file ${fmtMs(r.perFile).padStart(9)}  ` +
      `user ${fmtS(r.user)} sys ${fmtS(r.system)}  peak RSS ${fmtKiB(r.peakRss?.medianKiB)}  ${(r.mean / base).toFixed(2)}x`,
  );
}
console.log(`goal (llvm-ifs ≥ ${goal.target}x slower per file): ${goal.met ? "met" : "NOT met"} (${goal.ratio.toFixed(2)}x)`);
console.log(`largest files, one process each: ${largest.map((l) => `${path.basename(l.file)} abilink ${fmtS(l.abilinkSeconds)} / llvm-ifs ${fmtS(l.llvmIfsSeconds)}`).join("; ")}`);
console.log(`node -e 0: ${fmtS(nodeStartup)}; load average start ${env.loadavgStart.map((x) => x.toFixed(2)).join(" ")}, end ${env.loadavgEnd.map((x) => x.toFixed(2)).join(" ")}`);

fs.writeFileSync(
  outJson,
  JSON.stringify(
    {
      env,
      dir,
      fileSet: {
        rule: "regular files directly in dir, name matches *.so or *.so.*, ELF magic, e_type ET_DYN",
        count: files.length,
        totalBytes,
        listFile: listRel,
        listBytes,
        xargsCalls,
        ...census,
      },
      commands: commands.map((c) => ({ id: c.id, name: c.name, command: c.cmd, runs: c.runs, ...c.result })),
      ratios,
      goal,
      checks,
      largest,
      nodeStartupSeconds: nodeStartup,
    },
    null,
    2,
  ) + "\n",
);
console.log(`wrote ${path.relative(repo, outJson)}`);
