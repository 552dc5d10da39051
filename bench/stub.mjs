#!/usr/bin/env node
// Benchmark: one `abilink stub --out-dir DIR` call over every shared library directly in a
// library directory, against llvm-ifs 14 run once per library from an sh while-read loop
// (`llvm-ifs-14 --input-format=ELF --output-elf=OUT LIB`, the nearest existing tool). Both
// make their stubs from the libraries. Not a test: it measures, counts llvm-ifs's refusals,
// compares the sizes of the two stub sets, prints a summary and writes
// bench/results/stub-<date>.json (or BENCH_OUT).
//
//   node bench/stub.mjs                      # /usr/lib/x86_64-linux-gnu (dist/ must be built)
//   node bench/stub.mjs --runs 5 [DIR]
//
// Goals: abilink at least 10x faster per library; abilink's stubs no larger than llvm-ifs's
// plus the sections llvm-ifs does not write (.gnu.version, .gnu.version_d, .gnu.version_r,
// .hash, .gnu.hash), whose sizes are reported. File set: regular files (not symlinks)
// directly in DIR that start with the ELF magic, have e_type ET_DYN and a DT_SONAME; chosen
// without abilink. Timing: alternating rounds (timeAlternating in lib.mjs: one warm-up round,
// then --runs rounds, medians), GNU time for user/sys/peak RSS. Each timed command starts by
// emptying its output directory (`rm -rf D && mkdir D`, the same cost on both sides).
// Scratch: bench/results/stub-*.tmp (git-ignored): the file list and both stub directories.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { benchArgs, die, findGnuTime, firstLine, fmtKiB, fmtS, have, machineInfo, printFloorAndLoad, q, repo, resultsDir, timeAlternating } from "./lib.mjs";

const IFS = "llvm-ifs-14";
const listFile = path.join(resultsDir, "stub-files.tmp");
const abDir = path.join(resultsDir, "stub-abilink.tmp");
const ifsDir = path.join(resultsDir, "stub-llvm-ifs.tmp");
const rel = (p) => path.relative(repo, p);
const today = new Date().toISOString().slice(0, 10);
const outJson = process.env.BENCH_OUT ? path.resolve(process.env.BENCH_OUT) : path.join(resultsDir, `stub-${today}.json`);

const { values: args, positionals } = benchArgs(
  "usage: node bench/stub.mjs [--runs N] [DIR]\n" +
    "  default DIR: /usr/lib/x86_64-linux-gnu; runs: 3 alternating rounds after one warm-up round\n" +
    "  output: bench/results/stub-YYYY-MM-DD.json (BENCH_OUT=FILE to change)\n",
  { runs: 3 },
);
const dir = fs.realpathSync(positionals.at(-1) ?? "/usr/lib/x86_64-linux-gnu");
const la = () => os.loadavg().map((x) => Number(x.toFixed(2)));
const fmtMs = (s) => `${(s * 1000).toFixed(2)} ms`;
const fmtB = (n) => `${n.toLocaleString("en-US")} B`;

// ---------------------------------------------------------------- ELF, read without abilink

/** Little-endian ELF64 only (the x86-64 library directory): header fields, program and section headers. */
function elf64(buf) {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return null;
  return {
    type: buf.readUInt16LE(16),
    phoff: Number(buf.readBigUInt64LE(32)),
    shoff: Number(buf.readBigUInt64LE(40)),
    phentsize: buf.readUInt16LE(54),
    phnum: buf.readUInt16LE(56),
    shentsize: buf.readUInt16LE(58),
    shnum: buf.readUInt16LE(60),
    shstrndx: buf.readUInt16LE(62),
  };
}

function readAt(fd, off, len) {
  const b = Buffer.alloc(len);
  const n = fs.readSync(fd, b, 0, len, off);
  return b.subarray(0, n);
}

/** True when `file` is an ELF64 ET_DYN with a DT_SONAME in its PT_DYNAMIC. */
function isSharedLibraryWithSoname(file) {
  let fd;
  try {
    fd = fs.openSync(file, "r");
    const h = elf64(readAt(fd, 0, 64));
    if (!h || h.type !== 3) return false;
    const ph = readAt(fd, h.phoff, h.phentsize * h.phnum);
    for (let i = 0; i < h.phnum; i++) {
      const o = i * h.phentsize;
      if (ph.readUInt32LE(o) !== 2) continue; // PT_DYNAMIC
      const dyn = readAt(fd, Number(ph.readBigUInt64LE(o + 8)), Number(ph.readBigUInt64LE(o + 32)));
      for (let d = 0; d + 16 <= dyn.length; d += 16) {
        const tag = dyn.readBigInt64LE(d);
        if (tag === 0n) break;
        if (tag === 14n) return true; // DT_SONAME
      }
    }
    return false;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Section sizes by name (sh_size; NOBITS sections occupy no bytes in the file and count 0). */
function sectionSizes(file) {
  const buf = fs.readFileSync(file);
  const h = elf64(buf);
  const out = {};
  if (!h || h.shoff === 0) return out;
  const sh = (i) => h.shoff + i * h.shentsize;
  const strOff = Number(buf.readBigUInt64LE(sh(h.shstrndx) + 24));
  for (let i = 1; i < h.shnum; i++) {
    const nameOff = buf.readUInt32LE(sh(i));
    const end = buf.indexOf(0, strOff + nameOff);
    const name = buf.toString("latin1", strOff + nameOff, end);
    const type = buf.readUInt32LE(sh(i) + 4);
    out[name] = (out[name] ?? 0) + (type === 8 ? 0 : Number(buf.readBigUInt64LE(sh(i) + 32)));
  }
  return out;
}

// ---------------------------------------------------------------- tools and file set

if (!fs.existsSync(path.join(repo, "dist", "cli", "main.js"))) die("dist/ is missing; run `npm run build` first");
for (const t of [IFS, "xargs"]) if (!have(t)) die(`${t} is required (${IFS}: apt-get install llvm-14)`);
const gnuTime = findGnuTime();
const env = {
  ...machineInfo(),
  llvmIfs: firstLine(`${IFS} --version | grep -i version`),
  llvmPackage: firstLine("dpkg-query -W -f '${Package} ${Version}' llvm-14 2>/dev/null"),
  gnuTime,
  argMax: Number(firstLine("getconf ARG_MAX")),
  loadavgStart: la(),
};
console.log(`abilink stub benchmark, ${env.date}`);
console.log(`${env.cpus} cores (${env.cpuModel}), ${env.kernel}, node ${env.node}, ${env.llvmIfs}, abilink ${env.abilink} at ${env.gitHead}`);

const census = { regular: 0, symlinks: 0, notElf: 0, noSoname: [] };
const files = [];
for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
  if (e.isSymbolicLink()) {
    census.symlinks++;
    continue;
  }
  if (!e.isFile()) continue;
  census.regular++;
  const p = path.join(dir, e.name);
  const head = Buffer.alloc(18);
  const fd = fs.openSync(p, "r");
  const n = fs.readSync(fd, head, 0, 18, 0);
  fs.closeSync(fd);
  if (n < 18 || head.readUInt32BE(0) !== 0x7f454c46 || head.readUInt16LE(16) !== 3) {
    census.notElf++; // not ELF, or not ET_DYN
    continue;
  }
  if (isSharedLibraryWithSoname(p)) files.push(p);
  else census.noSoname.push(e.name);
}
if (files.length === 0) die(`no shared libraries with a SONAME in ${dir}`);
const totalBytes = files.reduce((s, f) => s + fs.statSync(f).size, 0);
fs.mkdirSync(resultsDir, { recursive: true });
fs.writeFileSync(listFile, files.join("\n") + "\n");
const listBytes = fs.statSync(listFile).size;
if (listBytes > env.argMax / 2) die(`the file list (${listBytes} bytes) may not fit one xargs call (ARG_MAX ${env.argMax})`);
console.log(`${files.length} shared libraries with a SONAME (${(totalBytes / 2 ** 20).toFixed(0)} MiB) in ${dir}; skipped ${census.symlinks} symlinks, ${census.notElf} regular files that are not ELF ET_DYN, ${census.noSoname.length} without a SONAME`);

// ---------------------------------------------------------------- llvm-ifs failures (untimed)

const failures = [];
fs.rmSync(ifsDir, { recursive: true, force: true });
fs.mkdirSync(ifsDir);
for (const f of files) {
  const r = spawnSync(IFS, ["--input-format=ELF", `--output-elf=${path.join(ifsDir, path.basename(f))}`, f], { encoding: "utf8" });
  if (r.status !== 0) failures.push({ file: f, exit: r.status ?? r.signal, message: (r.stderr || "").trim().split("\n")[0] });
}
console.log(`llvm-ifs fails on ${failures.length} of ${files.length}:`);
for (const x of failures) console.log(`  ${path.basename(x.file)}: exit ${x.exit}: ${x.message}`);

// ---------------------------------------------------------------- timing

const list = rel(listFile);
const fresh = (d) => `rm -rf ${q(rel(d))} && mkdir ${q(rel(d))}`;
const commands = [
  { id: "abilink", name: "abilink stub --out-dir, one call", cmd: `${fresh(abDir)} && xargs -a ${list} -d '\\n' node bin/abilink stub --out-dir ${q(rel(abDir))} > /dev/null 2>&1` },
  { id: "abilinkJobs1", name: "abilink stub --out-dir --jobs 1", cmd: `${fresh(abDir)} && xargs -a ${list} -d '\\n' node bin/abilink stub --jobs 1 --out-dir ${q(rel(abDir))} > /dev/null 2>&1` },
  {
    id: "llvmIfs",
    name: "llvm-ifs-14 per library, sh loop",
    cmd: `${fresh(ifsDir)} && while IFS= read -r f; do ${IFS} --input-format=ELF --output-elf="${rel(ifsDir)}/\${f##*/}" "$f" || :; done < ${list} > /dev/null 2>&1`,
  },
];
// One xargs call, so one abilink process (checked, untimed).
const calls = spawnSync("sh", ["-c", `xargs -a ${list} -d '\\n' sh -c 'echo call' x | wc -l`], { cwd: repo, encoding: "utf8" }).stdout.trim();
if (calls !== "1") die(`xargs splits the list into ${calls} calls`);

console.log(`timing, ${args.runs} alternating rounds after one warm-up round…`);
const timing = timeAlternating(commands, args.runs, {
  gnuTime,
  scratch: path.join(resultsDir, "stub-time.tmp"),
  onRun: (c, r, round) => console.log(`  ${round < 0 ? "warm-up" : `round ${round + 1}`} ${c.id}: ${fmtS(r.wall)}`),
});
for (const c of commands) {
  c.result = timing[c.id];
  c.result.perLibraryWall = c.result.medianWall / files.length;
}
const floor = timeAlternating(
  [
    { id: "node", cmd: "node -e 0" },
    { id: "sh", cmd: ":" },
  ],
  5,
  { gnuTime, scratch: path.join(resultsDir, "stub-time.tmp") },
);
env.loadavgEnd = la();

// ---------------------------------------------------------------- sizes (the last timed run's outputs)

const EXTRA = [".gnu.version", ".gnu.version_d", ".gnu.version_r", ".hash", ".gnu.hash"];
const failed = new Set(failures.map((x) => x.file));
const sonameOf = new Map(); // abilink names stubs by SONAME: library -> stub file
const abFiles = fs.readdirSync(abDir).map((n) => path.join(abDir, n));
const ifsFiles = fs.readdirSync(ifsDir).map((n) => path.join(ifsDir, n));
if (abFiles.length !== files.length) console.log(`note: abilink wrote ${abFiles.length} stubs for ${files.length} libraries (libraries sharing a SONAME share a stub)`);
function setSizes(paths) {
  let total = 0, largest = { file: null, bytes: 0 };
  for (const p of paths) {
    const b = fs.statSync(p).size;
    total += b;
    if (b > largest.bytes) largest = { file: path.basename(p), bytes: b };
  }
  return { count: paths.length, total, largest };
}
// SONAME of each library, from abilink's --json (untimed), to pair the stubs.
const json = spawnSync("sh", ["-c", `xargs -a ${list} -d '\\n' node bin/abilink stub --json --out-dir ${q(rel(abDir))}`], { cwd: repo, encoding: "utf8", maxBuffer: 1 << 28 });
for (const line of json.stdout.split("\n").filter(Boolean)) {
  const r = JSON.parse(line);
  sonameOf.set(r.path, r.output);
}
const extra = Object.fromEntries(EXTRA.map((n) => [n, 0]));
let abOnIfsSet = 0, extraOnIfsSet = 0;
for (const [input, out] of sonameOf) {
  const s = sectionSizes(path.resolve(repo, out));
  let e = 0;
  for (const n of EXTRA) {
    extra[n] += s[n] ?? 0;
    e += s[n] ?? 0;
  }
  if (!failed.has(input)) {
    abOnIfsSet += fs.statSync(path.resolve(repo, out)).size;
    extraOnIfsSet += e;
  }
}
const sizes = {
  abilink: setSizes(abFiles),
  llvmIfs: setSizes(ifsFiles),
  abilinkVersionAndHashSections: extra,
  abilinkVersionAndHashTotal: Object.values(extra).reduce((a, b) => a + b, 0),
  // Over the libraries llvm-ifs stubbed (abilink's stubs of those, by SONAME).
  onLlvmIfsSet: { abilink: abOnIfsSet, abilinkWithoutVersionAndHash: abOnIfsSet - extraOnIfsSet, llvmIfs: setSizes(ifsFiles).total },
};
const largestAb = sectionSizes(path.join(abDir, sizes.abilink.largest.file));
const largestIfs = sectionSizes(path.join(ifsDir, sizes.llvmIfs.largest.file));

// ---------------------------------------------------------------- summary

const base = timing.abilink.medianWall;
console.log();
console.log(`${files.length} libraries; medians of ${args.runs} alternating rounds`);
for (const c of commands) {
  const r = c.result;
  console.log(
    `${c.name.padEnd(36)} ${fmtS(r.medianWall).padStart(9)} (${fmtS(r.minWall)} … ${fmtS(r.maxWall)})  per library ${fmtMs(r.perLibraryWall).padStart(9)}  ` +
      `user ${fmtS(r.medianUser)} sys ${fmtS(r.medianSys)}  peak RSS ${fmtKiB(r.medianMaxRssKiB)}  ${(r.medianWall / base).toFixed(2)}x`,
  );
}
const ratio = timing.llvmIfs.medianWall / timing.abilink.medianWall;
const ratio1 = timing.llvmIfs.medianWall / timing.abilinkJobs1.medianWall;
console.log(`llvm-ifs / abilink per library: ${ratio.toFixed(2)} (--jobs 1: ${ratio1.toFixed(2)}); goal >= 10`);
console.log(`stubs: abilink ${sizes.abilink.count} files, ${fmtB(sizes.abilink.total)}, largest ${sizes.abilink.largest.file} ${fmtB(sizes.abilink.largest.bytes)}`);
console.log(`       llvm-ifs ${sizes.llvmIfs.count} files, ${fmtB(sizes.llvmIfs.total)}, largest ${sizes.llvmIfs.largest.file} ${fmtB(sizes.llvmIfs.largest.bytes)}`);
console.log(`abilink's version and hash sections: ${EXTRA.map((n) => `${n} ${fmtB(extra[n])}`).join(", ")}; total ${fmtB(sizes.abilinkVersionAndHashTotal)}`);
console.log(
  `on the ${files.length - failures.length} libraries llvm-ifs stubbed: abilink ${fmtB(abOnIfsSet)}, without those sections ${fmtB(abOnIfsSet - extraOnIfsSet)}; llvm-ifs ${fmtB(sizes.onLlvmIfsSet.llvmIfs)}`,
);
console.log(`largest abilink stub's sections: ${JSON.stringify(largestAb)}`);
console.log(`largest llvm-ifs stub's sections: ${JSON.stringify(largestIfs)}`);
printFloorAndLoad(floor, env);

fs.writeFileSync(
  outJson,
  JSON.stringify(
    {
      env,
      dir,
      fileSet: {
        rule: "regular files directly in dir (not symlinks), ELF magic, e_type ET_DYN, with DT_SONAME",
        count: files.length,
        totalBytes,
        listFile: list,
        ...census,
      },
      method: "alternating rounds: 1 warm-up round, then `runs` rounds each running every command once (order rotated); wall time around `GNU time -f '%U %S %M' sh -c CMD`; medians",
      runs: args.runs,
      commands: commands.map((c) => ({ id: c.id, name: c.name, command: c.cmd, ...c.result })),
      ratios: { llvmIfsOverAbilink: ratio, llvmIfsOverAbilinkJobs1: ratio1 },
      llvmIfsFailures: failures,
      sizes,
      largestSections: { abilink: largestAb, llvmIfs: largestIfs },
      floor: { nodeStartup: floor.node.medianWall, shOnly: floor.sh.medianWall },
    },
    null,
    2,
  ) + "\n",
);
console.log(`wrote ${rel(outJson)}`);
