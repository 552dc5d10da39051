#!/usr/bin/env node
// The memory goal of `abilink relink --out` (from the issue): "a 10,000-file tree and a 1 GB
// file each under 200 MB peak RSS". Not a test: it builds two roots, runs relink --out on each
// (ABI check on, and --no-abi-check), and reports GNU time's peak RSS (%M: the largest single
// process; the worker threads are in node's process) and the wall time; with the default heap
// and, when that is above 200 MB, with `NODE_OPTIONS=--max-old-space-size=96` (how much is V8's
// heap). Writes bench/results/relink-memory-<date>.json (or BENCH_OUT).
//
//   node bench/relink-memory.mjs                     # dist/ must be built; gcc, objcopy, readelf
//   node bench/relink-memory.mjs --runs 2 --files 10000 [--no-many | --no-big] [--keep]
//   BENCH_TMPDIR=/mnt/xfs node bench/relink-memory.mjs
//
// Set-up (untimed), in a scratch directory S (BENCH_TMPDIR or os.tmpdir()):
//   S/glibc-A/lib and S/glibc-B-security-fix/lib: the system's glibc (libc6's shared objects),
//     OLD and NEW, as in bench/relink.mjs;
//   (a) S/many: the file set of bench/relink.mjs (x86-64 programs and dynamic libraries under
//     /usr/bin, /usr/sbin, /usr/libexec, /usr/lib/x86_64-linux-gnu, /usr/lib; not libc6's;
//     accepted by `abilink patch --dry-run`), programs in bin/ and libraries in lib/, pointed at
//     OLD with `abilink patch` (programs: interpreter and RUNPATH `OLD/lib:$ORIGIN/../lib`,
//     libraries: that RUNPATH), then copies of the smallest of those set-up files under new
//     names (NAME.2, …) up to --files; no SONAME links;
//   (b) S/big/bin/big: a gcc-built program (prints a line, exits 0) given a 1 GiB non-alloc
//     section `.big` of random bytes (`objcopy --add-section .big=FILE --set-section-flags
//     .big=noload,readonly`), then `abilink patch --set-interpreter OLD/lib/ld-linux-x86-64.so.2
//     --set-runpath OLD/lib`; checked to run before and after.
// Each run: `node bin/abilink relink ROOT --out S/out --replace OLD=NEW [--no-abi-check]`
// under `GNU time -f '%e %U %S %M'`; S/out removed and `sync` after each (untimed). For (b),
// `cp -a` of the root is timed too, for reference.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { benchArgs, die, findGnuTime, firstLine, fmtKiB, fmtS, have, machineInfo, q, repo, resultsDir, sh } from "./lib.mjs";

const today = new Date().toISOString().slice(0, 10);
const outJson = process.env.BENCH_OUT ? path.resolve(process.env.BENCH_OUT) : path.join(resultsDir, `relink-memory-${today}.json`);
const { values: args } = benchArgs(
  "usage: node bench/relink-memory.mjs [--runs N] [--files N] [--big-mib N] [--no-many | --no-big] [--keep]\n" +
    "  runs: 2 per configuration (1 with a capped heap); files: 10000; big-mib: 1024 (the .big section)\n" +
    "  BENCH_TMPDIR: where it goes; BENCH_OUT: the results file\n",
  { runs: 2, files: 10000, "big-mib": 1024 },
  ["no-many", "no-big", "keep"],
);
const la = () => os.loadavg().map((x) => Number(x.toFixed(2)));
const MB = 1e6;

if (!fs.existsSync(path.join(repo, "dist", "cli", "main.js"))) die("dist/ is missing; run `npm run build` first");
for (const t of ["gcc", "objcopy", "readelf", "xargs", "cp", "sync"]) if (!have(t)) die(`${t} is required`);
const gnuTime = findGnuTime();
if (!gnuTime) die("GNU time (/usr/bin/time) is required: peak RSS is the point");
const tmpBase = fs.realpathSync(process.env.BENCH_TMPDIR || os.tmpdir());
const S = fs.mkdtempSync(path.join(tmpBase, "abilink-relink-memory-"));
let keep = args.keep;
process.on("exit", () => {
  if (!keep) fs.rmSync(S, { recursive: true, force: true });
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

const LDSO = "ld-linux-x86-64.so.2";
const OLD = path.join(S, "glibc-A");
const NEW = path.join(S, "glibc-B-security-fix");
const OUT = path.join(S, "out");
const RUNPATH_OLD = `${OLD}/lib:$ORIGIN/../lib`;
const INTERP_OLD = `${OLD}/lib/${LDSO}`;
const INTERP_NEW = `${NEW}/lib/${LDSO}`;

const env = {
  ...machineInfo(),
  gnuTime,
  scratch: S,
  fsType: firstLine(`df -T ${q(S)} | tail -1 | awk '{print $2}'`),
  gcc: firstLine("gcc --version"),
  objcopy: firstLine("objcopy --version"),
  loadavgStart: la(),
  dateCommand: firstLine("date"),
};
console.log(`abilink relink --out memory benchmark, ${env.dateCommand}; abilink at ${env.gitHead}; scratch ${S} on ${env.fsType}; load ${env.loadavgStart.join(" ")}`);

// ---------------------------------------------------------------- OLD and NEW: the system's glibc

const libc6 = (sh("dpkg -L libc6 2>/dev/null").stdout || "").split("\n").filter(Boolean);
const glibcFiles = libc6.filter((f) => /\/(x86_64-linux-gnu|lib64)\/[^/]+\.so[.\d]*$/.test(f) && fs.existsSync(f));
if (!glibcFiles.some((f) => f.endsWith(`/${LDSO}`))) die("dpkg -L libc6 lists no ld-linux-x86-64.so.2 (a Debian-like system is needed)");
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

// ---------------------------------------------------------------- measuring

const clean = () => {
  fs.rmSync(OUT, { recursive: true, force: true });
  sh("sync");
};
const tmp = path.join(resultsDir, "relink-memory-time.tmp");
/** One run of CMD under GNU time (from the repository root): wall, user, sys, peak RSS, exit, stderr's last lines. */
function timeOnce(cmd, extraEnv = {}) {
  fs.rmSync(tmp, { force: true });
  const errFile = path.join(S, "stderr.tmp");
  const t0 = process.hrtime.bigint();
  const r = spawnSync(gnuTime, ["-f", "%e %U %S %M", "-o", tmp, "sh", "-c", `${cmd} > /dev/null 2> ${q(errFile)}`], {
    cwd: repo,
    stdio: "ignore",
    env: { ...process.env, ...extraEnv },
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const last = fs.readFileSync(tmp, "utf8").trim().split("\n").pop().split(" ").map(Number);
  const stderr = fs.existsSync(errFile) ? fs.readFileSync(errFile, "utf8").trim().split("\n").filter(Boolean) : [];
  fs.rmSync(tmp, { force: true });
  return { wall, user: last[1], sys: last[2], maxRssKiB: last[3], exit: r.status ?? 128, stderrTail: stderr.slice(-6) };
}
const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const relinkCmd = (root, extra) => `node bin/abilink relink ${q(root)} --out ${q(OUT)} --replace ${q(`${OLD}=${NEW}`)}${extra}`;
/** Runs each configuration `runs` times (alternating), then the heap-capped ones once each when the default went above 200 MB. */
function measure(label, root) {
  const configs = [
    { id: "check", name: "relink --out (ABI check on)", cmd: relinkCmd(root, "") },
    { id: "noCheck", name: "relink --out --no-abi-check", cmd: relinkCmd(root, " --no-abi-check") },
  ];
  const res = {};
  for (let i = 0; i < args.runs; i++)
    for (const c of i % 2 ? [...configs].reverse() : configs) {
      clean();
      const r = timeOnce(c.cmd);
      clean();
      (res[c.id] ??= { name: c.name, command: c.cmd, runs: [] }).runs.push(r);
      console.log(`  ${label} ${c.name}: exit ${r.exit}, ${fmtS(r.wall)}, user ${fmtS(r.user)} sys ${fmtS(r.sys)}, peak RSS ${fmtKiB(r.maxRssKiB)}, load ${la()[0]}`);
      if (r.exit !== 0) console.log(`    stderr: ${r.stderrTail.join(" | ")}`);
    }
  for (const c of configs) {
    const x = res[c.id];
    x.medianWall = med(x.runs.map((r) => r.wall));
    x.medianMaxRssKiB = med(x.runs.map((r) => r.maxRssKiB));
    x.peakMB = (x.medianMaxRssKiB * 1024) / MB;
    x.under200MB = x.medianMaxRssKiB * 1024 < 200 * MB;
    if (!x.under200MB) {
      const extra = { NODE_OPTIONS: "--max-old-space-size=96" };
      clean();
      const r = timeOnce(c.cmd, extra);
      clean();
      x.heap96 = { env: extra, ...r, peakMB: (r.maxRssKiB * 1024) / MB };
      console.log(`  ${label} ${c.name}, NODE_OPTIONS=--max-old-space-size=96: exit ${r.exit}, ${fmtS(r.wall)}, peak RSS ${fmtKiB(r.maxRssKiB)}`);
      if (r.exit !== 0) console.log(`    stderr: ${r.stderrTail.join(" | ")}`);
    }
  }
  return res;
}
const interpOf = (f) => /\[Requesting program interpreter: (.*)\]/.exec(sh(`readelf -lW ${q(f)}`).stdout || "")?.[1] ?? null;
/** The relinked root once more (untimed), to check that it is right: exit status and the summary line. */
function checkOnce(root) {
  clean();
  const r = sh(relinkCmd(root, ""));
  const summaryLine = ((r.stdout || "") + (r.stderr || "")).split("\n").find((l) => / scanned: /.test(l)) ?? null;
  return { exit: r.status, summaryLine, stderrTail: (r.stderr || "").trim().split("\n").slice(-6) };
}

const result = { env, prefixes: { OLD, NEW } };

// ---------------------------------------------------------------- (a) 10,000 files

if (!args["no-many"]) {
  const MANY = path.join(S, "many");
  const ROOTS = ["/usr/bin", "/usr/sbin", "/usr/libexec", "/usr/lib/x86_64-linux-gnu", "/usr/lib"].filter((r) => fs.existsSync(r));
  const scan = spawnSync("node", ["bin/abilink", "scan", "--json", ...ROOTS.map((r) => fs.realpathSync(r))], { cwd: repo, encoding: "utf8", maxBuffer: 1 << 28 });
  if (scan.status !== 0 && scan.status !== 1) die(`abilink scan failed: ${scan.stderr}`);
  const rootIndex = (p) => ROOTS.findIndex((r) => p === r || p.startsWith(r + "/"));
  const records = scan.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => !r.path.startsWith("/usr/lib/debug/") && !r.path.includes("\n") && rootIndex(r.path) >= 0)
    .sort((a, b) => rootIndex(a.path) - rootIndex(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const seen = new Set();
  const candidates = [];
  for (const r of records) {
    if (r.machine !== "x86_64" || r.class !== 64) continue;
    const program = r.interpreter != null;
    if (!program && !(r.type === "DYN" && (r.needed.length > 0 || r.soname != null))) continue;
    const st = fs.statSync(r.path);
    const key = `${st.dev}:${st.ino}`;
    if (libc6Inodes.has(key) || seen.has(key)) continue;
    seen.add(key);
    candidates.push({ file: r.path, kind: program ? "program" : "library", mode: st.mode & 0o7777 });
  }
  fs.mkdirSync(path.join(MANY, "bin"), { recursive: true });
  fs.mkdirSync(path.join(MANY, "lib"));
  const taken = { bin: new Set(), lib: new Set() };
  for (const c of candidates) {
    const dir = c.kind === "program" ? "bin" : "lib";
    let name = path.basename(c.file);
    for (let k = 2; taken[dir].has(name); k++) name = `${path.basename(c.file)}.${k}`;
    taken[dir].add(name);
    c.rel = `${dir}/${name}`;
    fs.copyFileSync(c.file, path.join(MANY, c.rel));
    fs.chmodSync(path.join(MANY, c.rel), c.mode);
  }
  // The set-up edits, one abilink patch call per xargs batch; files it refuses (--json error lines) leave the tree.
  const refused = [];
  for (const [kind, edits] of [
    ["program", ["--set-interpreter", INTERP_OLD, "--set-runpath", RUNPATH_OLD]],
    ["library", ["--set-runpath", RUNPATH_OLD]],
  ]) {
    const list = path.join(S, `${kind}.list`);
    fs.writeFileSync(list, candidates.filter((c) => c.kind === kind).map((c) => path.join(MANY, c.rel) + "\n").join(""));
    const r = sh(`xargs -a ${q(list)} -d '\\n' -s 1000000 node bin/abilink patch --json ${edits.map(q).join(" ")}`);
    for (const l of (r.stdout || "").split("\n").filter(Boolean)) {
      const j = JSON.parse(l);
      if (j.error) refused.push(j.path);
    }
  }
  for (const f of refused) fs.rmSync(f, { force: true });
  const usable = candidates.filter((c) => !refused.includes(path.join(MANY, c.rel)));
  for (const c of usable) c.bytes = fs.statSync(path.join(MANY, c.rel)).size;
  // Copies of the smallest set-up files under new names, round robin over the smallest 500, up to --files.
  const smallest = [...usable].sort((a, b) => a.bytes - b.bytes).slice(0, 500);
  let count = usable.length;
  let copiedBytes = 0;
  for (let i = 0; count < args.files && smallest.length > 0; i++, count++) {
    const c = smallest[i % smallest.length];
    const dir = c.kind === "program" ? "bin" : "lib";
    let name;
    for (let k = 2; taken[dir].has((name = `${path.basename(c.rel)}.${k}`)); k++);
    taken[dir].add(name);
    fs.copyFileSync(path.join(MANY, c.rel), path.join(MANY, dir, name));
    fs.chmodSync(path.join(MANY, dir, name), c.mode);
    copiedBytes += c.bytes;
  }
  const bytes = usable.reduce((a, c) => a + c.bytes, 0) + copiedBytes;
  const nBin = fs.readdirSync(path.join(MANY, "bin")).length;
  const nLib = fs.readdirSync(path.join(MANY, "lib")).length;
  sh("sync");
  console.log(
    `\n(a) ${MANY}: ${count} ELF files (${nBin} in bin/, ${nLib} in lib/; ${usable.length} distinct, ${count - usable.length} copies of the ` +
      `${smallest.length} smallest, ${smallest[0]?.bytes}…${smallest.at(-1)?.bytes} bytes), ${(bytes / 2 ** 20).toFixed(0)} MiB; ${refused.length} refused by the set-up patch`,
  );
  const check = checkOnce(MANY);
  console.log(`  untimed check run (ABI check on): exit ${check.exit}; ${check.summaryLine}`);
  if (check.exit !== 0) console.log(`    stderr: ${check.stderrTail.join(" | ")}`);
  clean();
  const cp = timeOnce(`cp -a ${q(MANY)} ${q(OUT)}`);
  clean();
  console.log(`  cp -a (reference): ${fmtS(cp.wall)}, peak RSS ${fmtKiB(cp.maxRssKiB)}`);
  result.many = {
    root: MANY,
    files: count,
    programs: nBin,
    libraries: nLib,
    distinct: usable.length,
    copies: count - usable.length,
    smallestCopied: { count: smallest.length, minBytes: smallest[0]?.bytes, maxBytes: smallest.at(-1)?.bytes },
    bytes,
    refusedBySetup: refused.length,
    check,
    cp,
    runs: measure("(a)", MANY),
  };
}

// ---------------------------------------------------------------- (b) one 1 GiB program

if (!args["no-big"]) {
  const BIG = path.join(S, "big");
  const work = path.join(S, "big-build");
  fs.mkdirSync(path.join(BIG, "bin"), { recursive: true });
  fs.mkdirSync(work);
  fs.writeFileSync(path.join(work, "big.c"), '#include <stdio.h>\nint main(void) { puts("big: ok"); return 0; }\n');
  const prog = path.join(BIG, "bin", "big");
  const steps = [
    `gcc -O2 -o ${q(work)}/small ${q(work)}/big.c`,
    `head -c ${args["big-mib"]}M /dev/urandom > ${q(work)}/payload`,
    `objcopy --add-section .big=${q(work)}/payload --set-section-flags .big=noload,readonly ${q(work)}/small ${q(prog)}`,
  ];
  for (const c of steps) {
    const r = sh(c);
    if (r.status !== 0) die(`${c}: ${r.stderr}`);
  }
  fs.rmSync(work, { recursive: true, force: true });
  const ranBefore = spawnSync(prog, [], { encoding: "utf8" });
  const p = sh(`node bin/abilink patch --set-interpreter ${q(INTERP_OLD)} --set-runpath ${q(`${OLD}/lib`)} ${q(prog)}`);
  if (p.status !== 0) die(`abilink patch of the big program failed: ${p.stderr}`);
  const ranOld = spawnSync(prog, [], { encoding: "utf8" });
  const size = fs.statSync(prog).size;
  const section = (sh(`readelf -SW ${q(prog)} | grep ' \\.big '`).stdout || "").trim();
  sh("sync");
  console.log(
    `\n(b) ${prog}: ${size} bytes (${(size / 2 ** 20).toFixed(0)} MiB); ${section}\n  runs before the patch: exit ${ranBefore.status} "${(ranBefore.stdout || "").trim()}"; ` +
      `after (interpreter ${interpOf(prog)}): exit ${ranOld.status} "${(ranOld.stdout || "").trim()}"`,
  );
  const check = checkOnce(BIG);
  const outProg = path.join(OUT, "bin", "big");
  const ranNew = fs.existsSync(outProg) ? spawnSync(outProg, [], { encoding: "utf8" }) : null;
  check.interpreter = fs.existsSync(outProg) ? interpOf(outProg) : null;
  check.ran = ranNew ? { exit: ranNew.status, stdout: (ranNew.stdout || "").trim() } : null;
  check.bytes = fs.existsSync(outProg) ? fs.statSync(outProg).size : null;
  console.log(
    `  untimed check run (ABI check on): exit ${check.exit}; ${check.summaryLine}; OUT/bin/big: ${check.bytes} bytes, interpreter ${check.interpreter}, ` +
      `runs: exit ${check.ran?.exit} "${check.ran?.stdout}"`,
  );
  if (check.exit !== 0) console.log(`    stderr: ${check.stderrTail.join(" | ")}`);
  clean();
  const cp = timeOnce(`cp -a ${q(BIG)} ${q(OUT)}`);
  clean();
  console.log(`  cp -a (reference): ${fmtS(cp.wall)}, peak RSS ${fmtKiB(cp.maxRssKiB)}`);
  result.big = {
    root: BIG,
    program: prog,
    bytes: size,
    bigSection: section,
    ranBeforePatch: { exit: ranBefore.status, stdout: (ranBefore.stdout || "").trim() },
    ranWithOld: { exit: ranOld.status, stdout: (ranOld.stdout || "").trim() },
    check,
    cp,
    runs: measure("(b)", BIG),
  };
}

env.loadavgEnd = la();
console.log(`\nload average start ${env.loadavgStart.join(" ")}, end ${env.loadavgEnd.join(" ")}`);
for (const [k, v] of Object.entries({ "(a) 10,000 files": result.many, "(b) 1 GiB program": result.big })) {
  if (!v) continue;
  for (const c of Object.values(v.runs))
    console.log(
      `${k}, ${c.name}: median ${fmtS(c.medianWall)}, peak RSS ${fmtKiB(c.medianMaxRssKiB)} (${c.peakMB.toFixed(0)} MB; < 200 MB: ${c.under200MB ? "yes" : "NO"})` +
        (c.heap96 ? `; heap capped at 96 MiB: exit ${c.heap96.exit}, ${fmtS(c.heap96.wall)}, ${fmtKiB(c.heap96.maxRssKiB)}` : ""),
    );
}
fs.mkdirSync(resultsDir, { recursive: true });
fs.writeFileSync(outJson, JSON.stringify(result, null, 2) + "\n");
console.log(`wrote ${path.relative(repo, outJson) || outJson}`);
