#!/usr/bin/env node
// Benchmark: what one `abilink patchelf` call costs, against patchelf and against Node's own
// start-up (`node -e 0`, the floor for any Node program). Scripts and Nix hooks call patchelf
// once per file, so this cost is paid per file. Not a test: it measures, checks that both
// tools print and write the same, prints a summary and writes
// bench/results/startup-2026-11-29.json (or --out FILE).
//
//   node bench/startup.mjs                      # dist/ must be built (npm run build)
//   node bench/startup.mjs --rounds 10 --runs 3 --mem-runs 5 --files 100
//   node bench/startup.mjs --base DIR           # also time another built abilink checkout
//                                               # (e.g. the commit before a change)
//
// Timing: hyperfine -N (no shell), in rounds: each round times every command for --runs
// runs (after one warm-up run), the order of the commands rotating from round to round, so
// that a slow spell on this shared machine falls on all of them; the figures are the medians
// of all runs. An edit runs on a fresh copy every time (hyperfine --prepare 'cp ...').
// Peak RSS: GNU time (/usr/bin/time -f %M), median of --mem-runs runs.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchArgs, die, findGnuTime, firstLine, fmtKiB, have, machineInfo, median, repo, resultsDir } from "./lib.mjs";

// ---------------------------------------------------------------- arguments

const { values: args, positionals } = benchArgs(
  "usage: node bench/startup.mjs [--rounds N] [--runs N] [--mem-runs N] [--files N] [--base DIR] [--out FILE]\n" +
    "  rounds 10 of 3 runs per command (medians of all 30), memory runs 5, files in the many-file call 100;\n" +
    "  --base DIR: another built abilink checkout timed beside this one; --out: default\n" +
    "  bench/results/startup-2026-11-29.json\n",
  { rounds: 10, runs: 3, "mem-runs": 5, files: 100 },
  [],
  ["base", "out"],
);
if (positionals.length > 0) die(`unexpected argument ${positionals[0]} (see --help)`);
const opts = { rounds: args.rounds, runs: args.runs, memRuns: args["mem-runs"], files: args.files };
const base = args.base === undefined ? null : path.resolve(args.base);
const outJson = path.resolve(args.out ?? path.join(resultsDir, "startup-2026-11-29.json"));

// ---------------------------------------------------------------- tools and inputs

const bin = path.join(repo, "bin", "abilink");
if (!fs.existsSync(path.join(repo, "dist", "bundle", "patchelf.js"))) die("dist/bundle/ is missing; run `npm run build` first");
if (base && !fs.existsSync(path.join(base, "bin", "abilink"))) die(`--base ${base}: no bin/abilink there`);
if (!have("hyperfine")) die("hyperfine is required");
if (!have("patchelf")) die("patchelf is required");
const patchelf = spawnSync("sh", ["-c", "command -v patchelf"], { encoding: "utf8" }).stdout.trim();
const gnuTime = findGnuTime();

const input = "/usr/bin/ls";
const rpath = "/opt/abilink-bench/lib:$ORIGIN/../lib";
const work = fs.mkdtempSync(path.join(os.tmpdir(), "abilink-startup-"));
process.on("exit", () => fs.rmSync(work, { recursive: true, force: true }));
// The many-file call: copies of system programs and libraries, patched in one call.
function dynamicElf(p) {
  try {
    const st = fs.lstatSync(p);
    if (!st.isFile() || st.size > 4 << 20 || (st.mode & 0o6000) !== 0) return false;
    const fd = fs.openSync(p, "r");
    const b = Buffer.alloc(18);
    fs.readSync(fd, b, 0, 18, 0);
    fs.closeSync(fd);
    // 64-bit little-endian ELF, ET_EXEC or ET_DYN, that patchelf reads (it has a dynamic section).
    return (
      b.readUInt32BE(0) === 0x7f454c46 && b[4] === 2 && b[5] === 1 && [2, 3].includes(b.readUInt16LE(16)) &&
      spawnSync(patchelf, ["--print-needed", p], { stdio: "ignore" }).status === 0
    );
  } catch {
    return false;
  }
}
const many = [];
for (const dir of ["/usr/bin", "/usr/lib/x86_64-linux-gnu"]) {
  for (const n of fs.readdirSync(dir).sort()) {
    if (many.length === opts.files) break;
    if (dynamicElf(path.join(dir, n))) many.push(path.join(dir, n));
  }
}
if (many.length < opts.files) die(`only ${many.length} dynamic ELF files under /usr/bin and /usr/lib/x86_64-linux-gnu`);
fs.mkdirSync(path.join(work, "many-src"));
many.forEach((p, i) => fs.copyFileSync(p, path.join(work, "many-src", `${String(i).padStart(3, "0")}-${path.basename(p).replace(/[^\w.+-]/g, "_")}`)));
const manyNames = fs.readdirSync(path.join(work, "many-src")).sort();
const manyBytes = manyNames.reduce((a, n) => a + fs.statSync(path.join(work, "many-src", n)).size, 0);
for (const d of ["many-a", "many-p", "many-b"]) fs.mkdirSync(path.join(work, d));
const manyFiles = (d) => manyNames.map((n) => path.join(work, d, n));

const env = {
  ...machineInfo(),
  patchelf,
  patchelfVersion: firstLine(`${patchelf} --version`),
  hyperfine: firstLine("hyperfine --version"),
  gnuTime,
  base: base && { dir: base, gitHead: firstLine(`git -C ${base} rev-parse --short HEAD 2>/dev/null`) },
  loadavgStart: os.loadavg(),
};
console.log(`abilink patchelf start-up benchmark, ${env.date}`);
console.log(`${env.cpus} cores (${env.cpuModel}), ${env.kernel}, node ${env.node}, ${env.patchelfVersion}, ${env.hyperfine}`);

// ---------------------------------------------------------------- commands

const copy = (name) => path.join(work, name);
const commands = [
  { id: "node-e-0", name: "node -e 0 (the floor)", argv: ["node", "-e", "0"] },
  { id: "abilink-print", name: "abilink patchelf --print-needed", argv: ["node", bin, "patchelf", "--print-needed", input] },
  { id: "patchelf-print", name: "patchelf --print-needed", argv: [patchelf, "--print-needed", input] },
  {
    id: "abilink-edit",
    name: "abilink patchelf --set-rpath (copy of ls)",
    argv: ["node", bin, "patchelf", "--set-rpath", rpath, copy("a-ls")],
    prepare: ["cp", input, copy("a-ls")],
  },
  {
    id: "patchelf-edit",
    name: "patchelf --set-rpath (copy of ls)",
    argv: [patchelf, "--set-rpath", rpath, copy("p-ls")],
    prepare: ["cp", input, copy("p-ls")],
  },
  {
    id: "abilink-many",
    name: `abilink patchelf --set-rpath, ${opts.files} files in one call`,
    argv: ["node", bin, "patchelf", "--set-rpath", rpath, ...manyFiles("many-a")],
    prepare: ["cp", "-a", `${path.join(work, "many-src")}/.`, `${path.join(work, "many-a")}/`],
    files: opts.files,
  },
  {
    id: "patchelf-many",
    name: `patchelf --set-rpath, ${opts.files} files in one call`,
    argv: [patchelf, "--set-rpath", rpath, ...manyFiles("many-p")],
    prepare: ["cp", "-a", `${path.join(work, "many-src")}/.`, `${path.join(work, "many-p")}/`],
    files: opts.files,
  },
];
if (base) {
  const baseBin = path.join(base, "bin", "abilink");
  commands.push(
    { id: "base-print", name: "abilink patchelf --print-needed (--base)", argv: ["node", baseBin, "patchelf", "--print-needed", input] },
    {
      id: "base-edit",
      name: "abilink patchelf --set-rpath (--base)",
      argv: ["node", baseBin, "patchelf", "--set-rpath", rpath, copy("b-ls")],
      prepare: ["cp", input, copy("b-ls")],
    },
    {
      id: "base-many",
      name: `abilink patchelf --set-rpath, ${opts.files} files (--base)`,
      argv: ["node", baseBin, "patchelf", "--set-rpath", rpath, ...manyFiles("many-b")],
      prepare: ["cp", "-a", `${path.join(work, "many-src")}/.`, `${path.join(work, "many-b")}/`],
      files: opts.files,
    },
  );
}

// hyperfine -N splits a command line on white space (with shell-like quotes); none of these
// words needs quoting: checked here.
const words = (argv) => {
  for (const w of argv) if (!/^[\w@%+=:,./$-]+$/.test(w)) die(`a word needs quoting: ${w}`);
  return argv.join(" ");
};

// ---------------------------------------------------------------- checks

const run = (argv) => spawnSync(argv[0], argv.slice(1), { cwd: repo, encoding: "utf8", maxBuffer: 1 << 26 });
const checks = {};
{
  const a = run(commands[1].argv);
  const p = run(commands[2].argv);
  checks.print = { same: a.stdout === p.stdout && a.status === p.status && a.status === 0, abilink: a.stdout, abilinkStderr: a.stderr, patchelf: p.stdout };
  const rp = (f) => run([patchelf, "--print-rpath", f]).stdout.trim();
  const edits = [];
  for (const c of commands.filter((c) => c.prepare)) {
    run(c.prepare);
    const r = run(c.argv);
    const targets = c.files ? manyFiles(c.argv.at(-1).split("/").at(-2)) : [c.argv.at(-1)];
    const wrong = targets.filter((f) => rp(f) !== rpath);
    edits.push({ id: c.id, status: r.status, stderr: r.stderr.slice(0, 2000), files: targets.length, wrongRpath: wrong.length });
  }
  checks.edits = edits;
  // The drop-in: a link named patchelf prints what patchelf prints.
  fs.symlinkSync(bin, copy("patchelf"));
  const l = run([copy("patchelf"), "--print-needed", input]);
  checks.linkNamedPatchelf = { same: l.stdout === p.stdout && l.status === 0 };
}
const badEdits = checks.edits.filter((e) => e.status !== 0 || e.wrongRpath > 0);
console.log(
  `checks: --print-needed same as patchelf: ${checks.print.same}; link named patchelf: ${checks.linkNamedPatchelf.same}; ` +
    `edits with the right runpath: ${checks.edits.length - badEdits.length}/${checks.edits.length}`,
);
if (!checks.print.same || !checks.linkNamedPatchelf.same || badEdits.length > 0) die(`a check failed: ${JSON.stringify({ print: checks.print, badEdits })}`);
console.log(`many-file call: ${opts.files} files, ${(manyBytes / 2 ** 20).toFixed(1)} MiB (programs and libraries of up to 4 MiB)`);

// ---------------------------------------------------------------- timing

for (const c of commands) c.times = [];
for (let round = 0; round < opts.rounds; round++) {
  const order = commands.map((_, i) => commands[(i + round) % commands.length]);
  process.stdout.write(`round ${round + 1}/${opts.rounds}\r`);
  for (const c of order) {
    const exp = path.join(resultsDir, `startup-hyperfine-${c.id}.tmp`);
    const args = ["-N", "--warmup", "1", "--runs", String(opts.runs), "--style", "none", "--export-json", exp];
    if (c.prepare) args.push("--prepare", words(c.prepare));
    args.push(words(c.argv));
    const r = spawnSync("hyperfine", args, { cwd: repo, encoding: "utf8" });
    if (r.status !== 0) die(`hyperfine failed for ${c.id}: ${r.stderr}`);
    const h = JSON.parse(fs.readFileSync(exp, "utf8")).results[0];
    fs.rmSync(exp, { force: true });
    if (h.exit_codes.some((x) => x !== 0)) die(`${c.id} exited with ${h.exit_codes.join(",")}`);
    c.times.push(...h.times);
    (c.user ??= []).push(h.user);
    (c.system ??= []).push(h.system);
  }
}
process.stdout.write("\n");

function peakRss(c) {
  if (!gnuTime) return null;
  const tmp = path.join(resultsDir, "startup-time.tmp");
  const vals = [];
  for (let i = 0; i < opts.memRuns; i++) {
    if (c.prepare) run(c.prepare);
    spawnSync(gnuTime, ["-f", "%M", "-o", tmp, ...c.argv], { cwd: repo, stdio: "ignore" });
    vals.push(Number(fs.readFileSync(tmp, "utf8").trim().split("\n").pop()));
  }
  fs.rmSync(tmp, { force: true });
  return { medianKiB: median(vals), runsKiB: vals };
}
for (const c of commands) {
  c.result = {
    runs: c.times.length,
    median: median(c.times),
    min: Math.min(...c.times),
    max: Math.max(...c.times),
    userMedianOfRounds: median(c.user),
    systemMedianOfRounds: median(c.system),
    times: c.times,
    peakRss: peakRss(c),
  };
}
env.loadavgEnd = os.loadavg();

// ---------------------------------------------------------------- summary

const byId = Object.fromEntries(commands.map((c) => [c.id, c.result]));
const floor = byId["node-e-0"].median;
const ratios = {
  printOverPatchelf: byId["abilink-print"].median / byId["patchelf-print"].median,
  editOverPatchelf: byId["abilink-edit"].median / byId["patchelf-edit"].median,
  printOverNode: byId["abilink-print"].median / floor,
  editOverNode: byId["abilink-edit"].median / floor,
  printAboveNodeSeconds: byId["abilink-print"].median - floor,
  editAboveNodeSeconds: byId["abilink-edit"].median - floor,
  manyPerFileSeconds: byId["abilink-many"].median / opts.files,
  patchelfManyPerFileSeconds: byId["patchelf-many"].median / opts.files,
  oneCallPerFileOverManyPerFile: byId["abilink-edit"].median / (byId["abilink-many"].median / opts.files),
};
if (base) {
  ratios.basePrintOverPrint = byId["base-print"].median / byId["abilink-print"].median;
  ratios.baseEditOverEdit = byId["base-edit"].median / byId["abilink-edit"].median;
  ratios.baseManyOverMany = byId["base-many"].median / byId["abilink-many"].median;
}

const ms = (s) => (s == null ? "-" : `${(s * 1000).toFixed(1)} ms`);
console.log(`medians of ${opts.rounds} rounds × ${opts.runs} runs, alternating; ratios to node -e 0 and to patchelf`);
for (const c of commands) {
  const r = c.result;
  console.log(
    `${c.name.padEnd(58)} ${ms(r.median).padStart(9)} (min ${ms(r.min)})  user ${ms(r.userMedianOfRounds)} sys ${ms(r.systemMedianOfRounds)}  ` +
      `peak RSS ${fmtKiB(r.peakRss?.medianKiB)}  ${(r.median / floor).toFixed(2)}× node -e 0`,
  );
}
console.log(
  `abilink / patchelf: print ${ratios.printOverPatchelf.toFixed(1)}×, edit ${ratios.editOverPatchelf.toFixed(1)}×; ` +
    `above node -e 0: print ${ms(ratios.printAboveNodeSeconds)}, edit ${ms(ratios.editAboveNodeSeconds)}; ` +
    `${opts.files} files in one call: ${ms(ratios.manyPerFileSeconds)} a file (patchelf ${ms(ratios.patchelfManyPerFileSeconds)}), ` +
    `${ratios.oneCallPerFileOverManyPerFile.toFixed(1)}× less than one call per file`,
);
if (base) {
  console.log(
    `--base / this: print ${ratios.basePrintOverPrint.toFixed(2)}×, edit ${ratios.baseEditOverEdit.toFixed(2)}×, many ${ratios.baseManyOverMany.toFixed(2)}×`,
  );
}
console.log(`load average start ${env.loadavgStart.map((x) => x.toFixed(2)).join(" ")}, end ${env.loadavgEnd.map((x) => x.toFixed(2)).join(" ")}`);

fs.mkdirSync(path.dirname(outJson), { recursive: true });
fs.writeFileSync(
  outJson,
  JSON.stringify(
    {
      env,
      options: opts,
      input,
      rpath,
      manyFiles: { count: opts.files, totalBytes: manyBytes, sources: many },
      commands: commands.map((c) => ({ id: c.id, name: c.name, command: words(c.argv.map((w) => w.replace(work, "$WORK"))), prepare: c.prepare && words(c.prepare.map((w) => w.replace(work, "$WORK"))), ...c.result })),
      ratios,
      checks,
    },
    null,
    2,
  ) + "\n",
);
console.log(`wrote ${path.relative(repo, outJson)}`);
