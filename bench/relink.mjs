#!/usr/bin/env node
// Benchmark: `abilink relink TREE --out OUT --replace OLD=NEW` against (a) `cp -a TREE OUT`
// and (b) `cp -a TREE OUT` followed by a patchelf loop making the same edits, on a tree of
// at least 2,000 ELF files (copies of the system's programs and libraries) whose interpreters
// and first RUNPATH entry point at a prefix OLD. NEW is a longer prefix than OLD. Not a test:
// it measures, checks a few relinked files, prints a summary and writes
// bench/results/relink-<date>.json (or BENCH_OUT).
//
//   node bench/relink.mjs                        # dist/ must be built
//   node bench/relink.mjs --runs 3 --files 2000 [--profile | --no-profile] [--keep]
//   node bench/relink.mjs --setup-only           # build the tree (kept), print the commands, time nothing
//   BENCH_TMPDIR=/mnt/xfs node bench/relink.mjs  # the scratch tree elsewhere (default: os.tmpdir())
//
// Set-up (untimed): a scratch directory S (BENCH_TMPDIR or os.tmpdir()), holding
//   S/glibc-A/lib and S/glibc-B-security-fix/lib: copies of the system's glibc (libc6's
//     shared objects: ld.so, libc, libm, …; not gconv), OLD and NEW;
//   S/tree/bin: the programs (files with PT_INTERP), S/tree/lib: the libraries, flat, plus a
//     SONAME symbolic link for each library whose file name is not its SONAME;
//   programs: `abilink patch --set-interpreter OLD/lib/ld-linux-x86-64.so.2 --set-runpath
//     OLD/lib:$ORIGIN/../lib`, libraries: `abilink patch --set-runpath OLD/lib:$ORIGIN/../lib`
//     (one call each, through xargs).
// File set: regular files under /usr/bin, /usr/sbin, /usr/libexec, /usr/lib/x86_64-linux-gnu
// and /usr/lib (in that order, paths sorted, /usr/lib/debug skipped, one per inode), x86-64
// ELF, as `abilink scan --json` reports them: programs (an interpreter) and dynamic libraries
// (ET_DYN, no interpreter, at least one NEEDED or a SONAME: not static PIEs), not libc6's own
// files; kept if `abilink patch --dry-run` and `patchelf --output` accept the set-up edits and
// the benchmark's edits; the first --files of them.
// Timing: alternating rounds (timeAlternating in lib.mjs: one warm-up round, then --runs
// rounds, order rotated, medians), GNU time for user/sys/peak RSS. OUT is removed and `sync`
// run after every run (untimed): each run starts with no OUT and no dirty pages. cp -a does
// not flush what it writes; relink --out fsyncs every file and directory, so `cp -a` followed
// by `sync` of OUT's files and directories (coreutils `sync FILE…`: fsync each) is timed too,
// for reference. The scratch directory is removed at the end (unless --keep).
// The main relink command is the default one, with the ABI check on; --no-abi-check is a
// second row, and the two dry runs (with and without the check) give the check's own time.
// The memory goal (10,000 files, a 1 GB file) is measured by bench/relink-memory.mjs.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { benchArgs, die, findGnuTime, firstLine, fmtKiB, fmtS, have, machineInfo, printFloorAndLoad, q, repo, resultsDir, sh, timeAlternating } from "./lib.mjs";

const today = new Date().toISOString().slice(0, 10);
const outJson = process.env.BENCH_OUT ? path.resolve(process.env.BENCH_OUT) : path.join(resultsDir, `relink-${today}.json`);
const { values: args } = benchArgs(
  "usage: node bench/relink.mjs [--runs N] [--files N] [--profile | --no-profile] [--keep]\n" +
    "  runs: 3 alternating rounds after one warm-up round; files: 2000 ELF files\n" +
    "  --profile: always profile one run of each relink --out command (node --cpu-prof); --no-profile: never (default: when relink/cp -a > 1.25)\n" +
    "  --keep: leave the scratch directory; --setup-only: build the tree, print the commands, keep it, time nothing\n" +
    "  BENCH_TMPDIR: where it goes; BENCH_OUT: the results file\n",
  { runs: 3, files: 2000 },
  ["profile", "no-profile", "keep", "setup-only"],
);
const la = () => os.loadavg().map((x) => Number(x.toFixed(2)));
const fmtMiB = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const fmtX = (r) => (r == null ? "-" : `${r.toFixed(2)}x`);

const ROOTS = ["/usr/bin", "/usr/sbin", "/usr/libexec", "/usr/lib/x86_64-linux-gnu", "/usr/lib"];
const SKIP = "/usr/lib/debug/";
const LDSO = "ld-linux-x86-64.so.2";

// ---------------------------------------------------------------- tools

if (!fs.existsSync(path.join(repo, "dist", "cli", "main.js"))) die("dist/ is missing; run `npm run build` first");
for (const t of ["patchelf", "readelf", "xargs", "cp", "sync"]) if (!have(t)) die(`${t} is required`);
const gnuTime = findGnuTime();
const tmpBase = fs.realpathSync(process.env.BENCH_TMPDIR || os.tmpdir());
const S = fs.mkdtempSync(path.join(tmpBase, "abilink-relink-bench-"));
let keep = args.keep;
process.on("exit", () => {
  if (!keep) fs.rmSync(S, { recursive: true, force: true });
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

const OLD = path.join(S, "glibc-A");
const NEW = path.join(S, "glibc-B-security-fix"); // longer than OLD
const TREE = path.join(S, "tree");
const OUT = path.join(S, "out");
const RUNPATH_OLD = `${OLD}/lib:$ORIGIN/../lib`;
const RUNPATH_NEW = `${NEW}/lib:$ORIGIN/../lib`;
const INTERP_OLD = `${OLD}/lib/${LDSO}`;
const INTERP_NEW = `${NEW}/lib/${LDSO}`;

const env = {
  ...machineInfo(),
  patchelf: firstLine("patchelf --version"),
  cp: firstLine("cp --version"),
  readelf: firstLine("readelf --version"),
  gnuTime,
  scratch: S,
  df: (sh(`df -T ${q(S)}`).stdout || "").trim(),
  fsType: firstLine(`df -T ${q(S)} | tail -1 | awk '{print $2}'`),
  mkfsXfs: have("mkfs.xfs"),
  loadavgStart: la(),
  dateCommand: firstLine("date"),
};
console.log(`abilink relink benchmark, ${env.dateCommand}`);
console.log(`${env.cpus} cores (${env.cpuModel}), ${env.kernel}, node ${env.node}, ${env.patchelf}, ${env.cp}, abilink ${env.abilink} at ${env.gitHead}`);
console.log(`scratch ${S} on ${env.fsType}:\n${env.df}`);
if (env.gitDirty.length) console.log(`note: src/ has uncommitted changes (${env.gitDirty.length} files); dist/ is what is measured`);

// ---------------------------------------------------------------- OLD and NEW: the system's glibc

const libc6 = (sh("dpkg -L libc6 2>/dev/null").stdout || "").split("\n").filter(Boolean);
const glibcFiles = libc6.filter((f) => /\/(x86_64-linux-gnu|lib64)\/[^/]+\.so[.\d]*$/.test(f) && fs.existsSync(f));
if (!glibcFiles.some((f) => f.endsWith(`/${LDSO}`))) die("dpkg -L libc6 lists no ld-linux-x86-64.so.2 (a Debian-like system is needed)");
// Every file of libc6 (gconv modules included) is left out of the tree, by inode.
const libc6Inodes = new Set();
for (const f of libc6) {
  try {
    const st = fs.statSync(f);
    if (st.isFile()) libc6Inodes.add(`${st.dev}:${st.ino}`);
  } catch {}
}
for (const p of [OLD, NEW]) {
  fs.mkdirSync(path.join(p, "lib"), { recursive: true });
  for (const f of glibcFiles) fs.copyFileSync(f, path.join(p, "lib", path.basename(f)));
  for (const f of fs.readdirSync(path.join(p, "lib"))) fs.chmodSync(path.join(p, "lib", f), 0o755);
}
console.log(`OLD ${OLD}, NEW ${NEW} (${NEW.length - OLD.length} bytes longer): ${glibcFiles.length} glibc files each`);

// ---------------------------------------------------------------- candidates

const scan = spawnSync("node", ["bin/abilink", "scan", "--json", ...ROOTS.filter((r) => fs.existsSync(r)).map((r) => fs.realpathSync(r))], {
  cwd: repo,
  encoding: "utf8",
  maxBuffer: 1 << 28,
});
if (scan.status !== 0 && scan.status !== 1) die(`abilink scan failed: ${scan.stderr}`);
const rootIndex = (p) => ROOTS.findIndex((r) => p === r || p.startsWith(r + "/"));
const records = scan.stdout
  .split("\n")
  .filter(Boolean)
  .map((l) => JSON.parse(l))
  .filter((r) => !r.path.startsWith(SKIP) && !r.path.includes("\n") && rootIndex(r.path) >= 0)
  .sort((a, b) => rootIndex(a.path) - rootIndex(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
const census = { scanned: records.length, notX8664: 0, staticOrOther: 0, libc6: 0, hardLinks: 0 };
const seen = new Set();
const candidates = [];
for (const r of records) {
  if (r.machine !== "x86_64" || r.class !== 64) {
    census.notX8664++;
    continue;
  }
  const program = r.interpreter != null;
  const library = !program && r.type === "DYN" && (r.needed.length > 0 || r.soname != null);
  if (!program && !library) {
    census.staticOrOther++;
    continue;
  }
  const st = fs.statSync(r.path);
  const key = `${st.dev}:${st.ino}`;
  if (libc6Inodes.has(key)) {
    census.libc6++;
    continue;
  }
  if (seen.has(key)) {
    census.hardLinks++;
    continue;
  }
  seen.add(key);
  candidates.push({ file: r.path, kind: program ? "program" : "library", soname: r.soname, bytes: st.size, mode: st.mode & 0o7777 });
}
console.log(`${candidates.length} candidates (${JSON.stringify(census)})`);

// ---------------------------------------------------------------- pre-checks (untimed)

function abilinkDry(files, editArgs) {
  const list = path.join(S, "dry.list");
  fs.writeFileSync(list, files.join("\n") + "\n");
  const r = spawnSync("sh", ["-c", `xargs -a ${q(list)} -d '\\n' -s 1000000 node bin/abilink patch --dry-run --json ${editArgs.map(q).join(" ")}`], {
    cwd: repo,
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  const ok = new Set();
  for (const l of (r.stdout || "").split("\n").filter(Boolean)) {
    const j = JSON.parse(l);
    if (!j.error) ok.add(j.path);
  }
  return ok;
}
const abOkProg = abilinkDry(candidates.filter((c) => c.kind === "program").map((c) => c.file), ["--set-interpreter", INTERP_OLD, "--set-runpath", RUNPATH_OLD]);
const abOkLib = abilinkDry(candidates.filter((c) => c.kind === "library").map((c) => c.file), ["--set-runpath", RUNPATH_OLD]);
const peArgs = (kind) => (kind === "program" ? ["--set-interpreter", INTERP_NEW, "--set-rpath", RUNPATH_NEW] : ["--set-rpath", RUNPATH_NEW]);
const set = [];
const dropped = [];
for (const c of candidates) {
  if (set.length >= args.files) break;
  if ((c.kind === "program" ? abOkProg : abOkLib).has(c.file)) set.push(c);
  else dropped.push({ file: c.file, by: "abilink patch --dry-run" });
}

// ---------------------------------------------------------------- the tree

fs.mkdirSync(path.join(TREE, "bin"), { recursive: true });
fs.mkdirSync(path.join(TREE, "lib"));
const taken = { bin: new Set(), lib: new Set() };
for (const c of set) {
  const dir = c.kind === "program" ? "bin" : "lib";
  let name = path.basename(c.file);
  for (let k = 2; taken[dir].has(name); k++) name = `${path.basename(c.file)}.${k}`;
  taken[dir].add(name);
  c.rel = `${dir}/${name}`;
  fs.copyFileSync(c.file, path.join(TREE, c.rel));
  fs.chmodSync(path.join(TREE, c.rel), c.mode);
}
let sonameLinks = 0;
for (const c of set) {
  if (c.kind !== "library" || !c.soname || c.soname.includes("/") || taken.lib.has(c.soname)) continue;
  taken.lib.add(c.soname);
  fs.symlinkSync(path.basename(c.rel), path.join(TREE, "lib", c.soname));
  sonameLinks++;
}
let progs = set.filter((c) => c.kind === "program");
let libs = set.filter((c) => c.kind === "library");
const progList = path.join(S, "programs.list");
const libList = path.join(S, "libraries.list");
const writeList = (f, xs) => fs.writeFileSync(f, xs.map((c) => `${c.rel}\n`).join(""));
writeList(progList, progs);
writeList(libList, libs);
const xa = (list, dir) => `sed 's|^|${dir}/|' ${q(list)} | xargs -d '\\n' -s 1000000`;
for (const [list, edits] of [
  [progList, `--set-interpreter ${q(INTERP_OLD)} --set-runpath ${q(RUNPATH_OLD)}`],
  [libList, `--set-runpath ${q(RUNPATH_OLD)}`],
]) {
  if (fs.statSync(list).size === 0) continue;
  const r = sh(`${xa(list, TREE)} node bin/abilink patch ${edits}`);
  if (r.status !== 0) die(`setting up the tree failed: ${r.stderr}`);
}
// patchelf must take the benchmark's edits on the set-up file (it refuses some files that
// the set-up patch gave a new segment): checked with --output, and a file it refuses leaves the tree.
const peTmp = path.join(S, "patchelf-check.tmp");
const linkTarget = (p) => {
  try {
    return fs.readlinkSync(p);
  } catch {
    return null;
  }
};
for (let i = 0; i < set.length; i++) {
  const c = set[i];
  const r = spawnSync("patchelf", [...peArgs(c.kind), "--output", peTmp, path.join(TREE, c.rel)], { encoding: "utf8" });
  fs.rmSync(peTmp, { force: true });
  if (r.status === 0) continue;
  dropped.push({ file: c.file, by: "patchelf on the set-up copy", message: (r.stderr || "").trim().split("\n").pop() });
  fs.rmSync(path.join(TREE, c.rel));
  if (c.kind === "library" && c.soname && linkTarget(path.join(TREE, "lib", c.soname)) === path.basename(c.rel)) {
    fs.rmSync(path.join(TREE, "lib", c.soname));
    sonameLinks--;
  }
  set.splice(i--, 1);
}
// Fewer usable files than asked for: the first ones again (the set-up copies), under new names (NAME.2, …).
const usable = set.length;
for (let i = 0; set.length < args.files && usable > 0; i++) {
  const c = set[i % usable];
  const dir = c.kind === "program" ? "bin" : "lib";
  let name = path.basename(c.rel);
  for (let k = 2; taken[dir].has(name); k++) name = `${path.basename(c.rel)}.${k}`;
  taken[dir].add(name);
  const rel = `${dir}/${name}`;
  fs.copyFileSync(path.join(TREE, c.rel), path.join(TREE, rel));
  fs.chmodSync(path.join(TREE, rel), c.mode);
  set.push({ ...c, rel, repeat: true });
}
const repeats = set.length - usable;
if (repeats) console.log(`note: ${usable} usable files; ${repeats} of them copied a second time to reach ${args.files}`);
console.log(`dropped ${dropped.length}: ${dropped.slice(0, 3).map((d) => `${d.file} (${d.by}${d.message ? `: …${d.message.slice(-60)}` : ""})`).join(", ")}`);
progs = set.filter((c) => c.kind === "program");
libs = set.filter((c) => c.kind === "library");
writeList(progList, progs);
writeList(libList, libs);
const treeBytes = set.reduce((a, c) => a + c.bytes, 0);
const treeAfterBytes = set.reduce((a, c) => a + fs.statSync(path.join(TREE, c.rel)).size, 0);
sh("sync");
console.log(
  `tree ${TREE}: ${set.length} ELF files (${progs.length} programs, ${libs.length} libraries), ${fmtMiB(treeAfterBytes)} ` +
    `(${fmtMiB(treeBytes)} before the set-up patch), ${sonameLinks} SONAME links`,
);

// ---------------------------------------------------------------- commands

const loop = (list, edits) => `while IFS= read -r f; do patchelf ${edits} "${OUT}/$f" || exit 1; done < ${q(list)}`;
const relink = (extra) => `node bin/abilink relink ${q(TREE)} --out ${q(OUT)} --replace ${q(`${OLD}=${NEW}`)}${extra}`;
const cmds = {
  cp: { id: "cp", name: "(a) cp -a TREE OUT", cmd: `cp -a ${q(TREE)} ${q(OUT)}` },
  cpSync: { id: "cpSync", name: "(a') cp -a, then sync (fsync) OUT's files", cmd: `cp -a ${q(TREE)} ${q(OUT)} && find ${q(OUT)} -print0 | xargs -0 sync --` },
  cpPatchelf: {
    id: "cpPatchelf",
    name: "(b) cp -a, then patchelf per file",
    cmd:
      `cp -a ${q(TREE)} ${q(OUT)} && ${loop(progList, `--set-interpreter ${q(INTERP_NEW)} --set-rpath ${q(RUNPATH_NEW)}`)} && ` +
      `${loop(libList, `--set-rpath ${q(RUNPATH_NEW)}`)} > /dev/null 2>&1`,
  },
  relink: { id: "relink", name: "(c) abilink relink --out (ABI check on)", cmd: `${relink("")} > /dev/null 2>&1` },
  relinkNoCheck: { id: "relinkNoCheck", name: "(c') abilink relink --out --no-abi-check", cmd: `${relink(" --no-abi-check")} > /dev/null 2>&1` },
  dryCheck: { id: "dryCheck", name: "abilink relink --dry-run (ABI check on)", cmd: `node bin/abilink relink ${q(TREE)} --dry-run --replace ${q(`${OLD}=${NEW}`)} > /dev/null 2>&1` },
  dryNoCheck: { id: "dryNoCheck", name: "abilink relink --dry-run --no-abi-check", cmd: `node bin/abilink relink ${q(TREE)} --dry-run --no-abi-check --replace ${q(`${OLD}=${NEW}`)} > /dev/null 2>&1` },
};
const clean = () => {
  fs.rmSync(OUT, { recursive: true, force: true });
  sh("sync");
};

if (args["setup-only"]) {
  keep = true;
  console.log(`\nset up; nothing timed. Remove ${S} when done. The commands (from the repository root):`);
  for (const c of Object.values(cmds)) console.log(`  ${c.cmd}`);
  process.exit(0);
}

// ---------------------------------------------------------------- correctness (untimed, one run each)

const interpOf = (f) => /\[Requesting program interpreter: (.*)\]/.exec(sh(`readelf -lW ${q(f)}`).stdout || "")?.[1] ?? null;
const runpathOf = (f) => /\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[(.*)\]/.exec(sh(`readelf -dW ${q(f)}`).stdout || "")?.[1] ?? null;
const sample = (xs, n) => Array.from({ length: Math.min(n, xs.length) }, (_, i) => xs[Math.floor((i * xs.length) / Math.min(n, xs.length))]);
const sampleProgs = sample(progs, 10);
const sampleLibs = sample(libs, 10);
function inspectOut(label) {
  const p = sampleProgs.map((c) => ({ file: c.rel, interpreter: interpOf(path.join(OUT, c.rel)), runpath: runpathOf(path.join(OUT, c.rel)) }));
  const l = sampleLibs.map((c) => ({ file: c.rel, runpath: runpathOf(path.join(OUT, c.rel)) }));
  const ok = p.every((x) => x.interpreter === INTERP_NEW && x.runpath === RUNPATH_NEW) && l.every((x) => x.runpath === RUNPATH_NEW);
  console.log(`  ${label}: ${p.length} programs and ${l.length} libraries sampled (readelf): ${ok ? "NEW interpreter and runpath in every one" : "WRONG"}`);
  if (!ok) for (const x of [...p, ...l]) console.log(`    ${JSON.stringify(x)}`);
  return { ok, programs: p, libraries: l };
}
const checks = {};
console.log("\n== correctness (one untimed run of each)");
clean();
{
  const r = sh(cmds.cpPatchelf.cmd.replace(" > /dev/null 2>&1", ""));
  if (r.status !== 0) die(`the patchelf loop failed: ${r.stderr}`);
  checks.cpPatchelf = inspectOut("cp -a + patchelf");
  clean();
}
const relinkJson = (extra) => {
  const r = sh(`${relink(extra)} --json`);
  let j = null;
  try {
    j = JSON.parse(r.stdout);
  } catch {}
  return { status: r.status, json: j, stderr: (r.stderr || "").trim() };
};
{
  // The main command, as timed (ABI check on), in text form: it must exit 0 and say "0 refused".
  const r = sh(relink(""));
  const lines = ((r.stdout || "") + (r.stderr || "")).trim().split("\n");
  const summaryLine = lines.find((l) => / scanned: /.test(l)) ?? null;
  const zeroRefused = summaryLine != null && /ABI check: [\d,]+ files? checked, 0 refused/.test(summaryLine);
  checks.relink = { exit: r.status, summaryLine, zeroRefused, otherLines: lines.filter((l) => l !== summaryLine).slice(0, 20) };
  console.log(`  relink (ABI check on): exit ${r.status}; ${summaryLine}`);
  if (r.status !== 0 || !zeroRefused) die(`relink with the ABI check exited ${r.status} (expected 0, "0 refused"):\n${lines.slice(0, 40).join("\n")}`);
  checks.relink = { ...checks.relink, ...inspectOut("relink (ABI check on)") };
  // Run two relinked programs: NEW holds a real glibc. LD_DEBUG=libs shows where libc comes from.
  const runnable = ["ls", "cat", "date", "env", "true", "sort", "id", "uname"]
    .map((n) => progs.find((c) => c.rel === `bin/${n}`))
    .filter(Boolean)
    .slice(0, 2);
  checks.ran = runnable.map((c) => {
    const f = path.join(OUT, c.rel);
    const run = spawnSync(f, ["--version"], { encoding: "utf8", env: { ...process.env, LD_DEBUG: "libs" } });
    const inits = [...(run.stderr || "").matchAll(/calling init: (\S+)/g)].map((m) => m[1]);
    const libcFrom = inits.find((x) => /\/libc\.so\.6$/.test(x)) ?? null;
    const ok = run.status === 0 && libcFrom === `${NEW}/lib/libc.so.6` && !inits.some((x) => x.startsWith(OLD + "/"));
    console.log(`  ran ${c.rel} --version: exit ${run.status}, "${(run.stdout || "").split("\n")[0]}", libc from ${libcFrom}, nothing from OLD: ${!inits.some((x) => x.startsWith(OLD + "/"))}`);
    return { file: c.rel, exit: run.status, firstLine: (run.stdout || "").split("\n")[0], libcFrom, initialised: inits, ok };
  });
  clean();
}
{
  const r = relinkJson(" --no-abi-check");
  if (r.status !== 0) die(`relink --no-abi-check exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  checks.relinkNoCheck = { exit: r.status, summary: r.json?.summary ?? null, ...inspectOut("relink --no-abi-check") };
  console.log(`  relink --no-abi-check summary: ${JSON.stringify(r.json?.summary)}`);
  clean();
}

// ---------------------------------------------------------------- timing

const timed = [cmds.cp, cmds.cpSync, cmds.cpPatchelf, cmds.relink, cmds.relinkNoCheck, cmds.dryCheck, cmds.dryNoCheck];
console.log(`\n== timing: ${args.runs} alternating rounds after one warm-up round (OUT removed and sync after each run, untimed)`);
const timing = timeAlternating(timed, args.runs, {
  gnuTime,
  scratch: path.join(resultsDir, "relink-time.tmp"),
  onRun: (c, r, round) => {
    clean();
    console.log(`  ${round < 0 ? "warm-up" : `round ${round + 1}`} ${c.id}: ${fmtS(r.wall)}, peak RSS ${fmtKiB(r.maxRssKiB)}, load ${la()[0]}`);
  },
});
const floor = timeAlternating(
  [
    { id: "node", cmd: "node -e 0" },
    { id: "sh", cmd: ":" },
  ],
  5,
  { gnuTime, scratch: path.join(resultsDir, "relink-time.tmp") },
);
env.loadavgEnd = la();

// ---------------------------------------------------------------- profile (one run, untimed)

const T = (id) => timing[id]?.medianWall ?? null;
const ratios = {
  relinkOverCp: T("relink") / T("cp"),
  relinkOverCpSync: T("relink") / T("cpSync"),
  cpPatchelfOverRelink: T("cpPatchelf") / T("relink"),
  relinkNoCheckOverCp: T("relinkNoCheck") / T("cp"),
  relinkNoCheckOverCpSync: T("relinkNoCheck") / T("cpSync"),
  cpPatchelfOverRelinkNoCheck: T("cpPatchelf") / T("relinkNoCheck"),
};
// The ABI check's own time, two ways: relink --out with the check less without; the dry runs likewise.
const checkSeconds = T("relink") - T("relinkNoCheck");
const checkSecondsDry = T("dryCheck") - T("dryNoCheck");
const rss = timing.relink.medianMaxRssKiB;
const rssNoCheck = timing.relinkNoCheck.medianMaxRssKiB;
const rssGoal = (target, k) => ({ target, kiB: k, mb: k == null ? null : (k * 1024) / 1e6, met: k == null ? null : k * 1024 < 200e6 });
const goals = {
  relinkOverCp: { target: "relink --out (ABI check on) ≤ 1.25× cp -a", ratio: ratios.relinkOverCp, met: ratios.relinkOverCp <= 1.25 },
  cpPatchelfOverRelink: { target: "cp -a + patchelf loop ≥ 3× relink --out (ABI check on)", ratio: ratios.cpPatchelfOverRelink, met: ratios.cpPatchelfOverRelink >= 3 },
  relinkNoCheckOverCp: { target: "(the same, --no-abi-check) ≤ 1.25× cp -a", ratio: ratios.relinkNoCheckOverCp, met: ratios.relinkNoCheckOverCp <= 1.25 },
  cpPatchelfOverRelinkNoCheck: { target: "(the same, --no-abi-check) ≥ 3×", ratio: ratios.cpPatchelfOverRelinkNoCheck, met: ratios.cpPatchelfOverRelinkNoCheck >= 3 },
  peakRss: rssGoal("relink --out peak RSS < 200 MB (ABI check on)", rss),
  peakRssNoCheck: rssGoal("(the same, --no-abi-check)", rssNoCheck),
};

function summarizeProfile(file, top = 25) {
  const p = JSON.parse(fs.readFileSync(file, "utf8"));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = p.timeDeltas;
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (dt[i] ?? 0));
  const fnAgg = new Map();
  const fileAgg = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const cf = byId.get(id).callFrame;
    const url = cf.url.replace(/^file:\/\//, "").replace(repo + "/", "");
    const fname = `${cf.functionName || "(anonymous)"} ${url ? `${url}:${cf.lineNumber + 1}` : ""}`.trim();
    fnAgg.set(fname, (fnAgg.get(fname) ?? 0) + us);
    const key = url || cf.functionName;
    fileAgg.set(key, (fileAgg.get(key) ?? 0) + us);
    total += us;
  }
  const rows = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => ({ what: k, ms: Math.round(us / 1000) }));
  return { sampledMs: Math.round(total / 1000), byFunction: rows(fnAgg), byFile: rows(fileAgg) };
}
let profile = null;
if (args.profile || (!args["no-profile"] && !goals.relinkOverCp.met)) {
  // One run of each relink --out command under node --cpu-prof: the main thread and each of
  // the pool's worker threads write their own profile into the directory.
  profile = {};
  for (const [key, extra] of [
    ["relink", ""],
    ["relinkNoCheck", " --no-abi-check"],
  ]) {
    console.log(`\n== profile: one relink --out${extra || " (ABI check on)"} run under node --cpu-prof`);
    const dir = path.join(S, `prof-${key}`);
    fs.mkdirSync(dir);
    const cmd = `node --cpu-prof --cpu-prof-dir ${q(dir)} ${relink(extra).replace(/^node /, "")} > /dev/null 2>&1`;
    const t0 = process.hrtime.bigint();
    const r = sh(cmd);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    clean();
    const files = fs.readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).sort();
    profile[key] = { command: cmd, exit: r.status, wall, threads: files.map((f) => ({ file: f, ...summarizeProfile(path.join(dir, f)) })) };
    console.log(`  exit ${r.status}, ${fmtS(wall)} wall, ${files.length} profiles (main thread and workers)`);
    for (const t of profile[key].threads) {
      console.log(`  ${t.file}: ${t.sampledMs} ms sampled; self time by function:`);
      for (const x of t.byFunction.slice(0, 15)) console.log(`    ${String(x.ms).padStart(6)} ms  ${x.what}`);
      console.log("  by file:");
      for (const x of t.byFile.slice(0, 10)) console.log(`    ${String(x.ms).padStart(6)} ms  ${x.what}`);
    }
  }
}

// ---------------------------------------------------------------- summary

console.log(`\n${set.length} ELF files (${progs.length} programs, ${libs.length} libraries, ${fmtMiB(treeAfterBytes)}) on ${env.fsType}; medians of ${args.runs} alternating rounds`);
for (const c of timed) {
  const r = timing[c.id];
  console.log(
    `${c.name.padEnd(44)} ${fmtS(r.medianWall).padStart(9)} (${fmtS(r.minWall)} … ${fmtS(r.maxWall)})  user ${fmtS(r.medianUser)} sys ${fmtS(r.medianSys)}  ` +
      `peak RSS ${fmtKiB(r.medianMaxRssKiB)}  ${fmtX(r.medianWall / T("cp"))} cp -a`,
  );
}
const met = (g) => (g.met ? "met" : "NOT met");
console.log(`relink (check on) / cp -a: ${fmtX(ratios.relinkOverCp)} (goal ≤ 1.25: ${met(goals.relinkOverCp)}); / (cp -a + sync): ${fmtX(ratios.relinkOverCpSync)}`);
console.log(`(cp -a + patchelf) / relink (check on): ${fmtX(ratios.cpPatchelfOverRelink)} (goal ≥ 3: ${met(goals.cpPatchelfOverRelink)})`);
console.log(`relink --no-abi-check / cp -a: ${fmtX(ratios.relinkNoCheckOverCp)} (${met(goals.relinkNoCheckOverCp)}); / (cp -a + sync): ${fmtX(ratios.relinkNoCheckOverCpSync)}; (cp -a + patchelf) / it: ${fmtX(ratios.cpPatchelfOverRelinkNoCheck)} (${met(goals.cpPatchelfOverRelinkNoCheck)})`);
console.log(`relink peak RSS: ${fmtKiB(rss)} with the check, ${fmtKiB(rssNoCheck)} without (goal < 200 MB: ${met(goals.peakRss)} / ${met(goals.peakRssNoCheck)})`);
console.log(`the ABI check's own time: ${fmtS(checkSeconds)} (relink --out with the check − without), ${fmtS(checkSecondsDry)} (the dry runs)`);
printFloorAndLoad(floor, env);

fs.mkdirSync(resultsDir, { recursive: true });
fs.writeFileSync(
  outJson,
  JSON.stringify(
    {
      env,
      prefixes: { OLD, NEW, TREE, OUT, runpathOld: RUNPATH_OLD, runpathNew: RUNPATH_NEW, interpreterOld: INTERP_OLD, interpreterNew: INTERP_NEW, glibcFiles },
      fileSet: {
        rule:
          "abilink scan --json of /usr/bin /usr/sbin /usr/libexec /usr/lib/x86_64-linux-gnu /usr/lib (in that order, paths sorted, /usr/lib/debug skipped, one per inode), x86-64; programs (PT_INTERP) to TREE/bin, dynamic libraries (ET_DYN, no PT_INTERP, NEEDED or SONAME) to TREE/lib; libc6's files left out; dropped if abilink patch --dry-run or patchelf --output refuses the edits; the first `files`",
        ...census,
        candidates: candidates.length,
        count: set.length,
        programs: progs.length,
        libraries: libs.length,
        sonameLinks,
        bytesBeforeSetup: treeBytes,
        bytes: treeAfterBytes,
        usable,
        repeatedCopies: repeats,
        dropped: dropped.length,
        droppedExamples: dropped.slice(0, 20),
        largest: [...set].sort((a, b) => b.bytes - a.bytes).slice(0, 5).map((c) => ({ file: c.file, bytes: c.bytes })),
      },
      method:
        "alternating rounds: 1 warm-up round, then `runs` rounds each running every command once (order rotated); wall time around `GNU time -f '%U %S %M' sh -c CMD`; medians; OUT removed and `sync` after every run (untimed)",
      runs: args.runs,
      commands: timed.map((c) => ({ id: c.id, name: c.name, command: c.cmd, ...timing[c.id] })),
      ratios,
      checkSeconds,
      checkSecondsDry,
      goals,
      checks,
      profile,
      floor: { nodeStartup: floor.node.medianWall, shOnly: floor.sh.medianWall },
    },
    null,
    2,
  ) + "\n",
);
console.log(`wrote ${path.relative(repo, outJson)}`);
