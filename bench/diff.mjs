#!/usr/bin/env node
// Benchmark: `abilink diff OLD NEW` against `abidiff OLD NEW` (libabigail) on pairs of real
// libraries: big system libraries against a byte-identical copy of themselves (the common
// "nothing changed" case in CI), a small library built in two versions with gcc, and a
// generated library with 10,000 functions of which 1,000 are replaced. Not a test: it
// measures, compares what the tools report, prints a summary and writes
// bench/results/diff-<date>.json (or BENCH_OUT).
//
//   node bench/diff.mjs                       # dist/ must be built
//   node bench/diff.mjs --runs 11 --large-runs 3 [--llvm-pair]
//
// abidiff reads DWARF when it finds it, also in a separate debug file under /usr/lib/debug
// (libc6-dbg's for libc.so.6); abilink reads only ELF symbol and version tables. For a pair
// with debug info, abidiff is also timed with --d1/--d2 naming an empty directory, which
// keeps it to the ELF symbol tables. --llvm-pair adds libLLVM-14 against libLLVM-15 (45k
// symbols, almost all changed): abidiff took 832 s there on 2026-11-29, so it runs once.
// Timing: alternating rounds (timeAlternating in lib.mjs: one warm-up round, then the
// rounds, medians), GNU time for user/sys/peak RSS. Copies and built libraries live in a
// temporary directory removed at the end; scratch in bench/results/diff-*.tmp (git-ignored).

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchArgs, buildDemoPair, die, findGnuTime, firstLine, fmtKiB, fmtS, have, machineInfo, printFloorAndLoad, q, repo, resultsDir, sh, timeAlternating } from "./lib.mjs";

const today = new Date().toISOString().slice(0, 10);
const outJson = process.env.BENCH_OUT ? path.resolve(process.env.BENCH_OUT) : path.join(resultsDir, `diff-${today}.json`);
const scratch = path.join(resultsDir, "diff-time.tmp");

// ---------------------------------------------------------------- arguments

const { values: args } = benchArgs(
  "usage: node bench/diff.mjs [--runs N] [--large-runs N] [--llvm-pair]\n" +
    "  runs: 11 alternating rounds per pair after one warm-up round; 3 for libLLVM-15 against itself\n" +
    "  --llvm-pair: also libLLVM-14 against libLLVM-15 (abidiff once: about 14 minutes here)\n" +
    "  output: bench/results/diff-YYYY-MM-DD.json (BENCH_OUT=FILE to change)\n",
  { runs: 11, "large-runs": 3 },
  ["llvm-pair"],
);

// ---------------------------------------------------------------- helpers

const la = () => os.loadavg().map((x) => Number(x.toFixed(2)));
const LIBDIRS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];
function findLib(name) {
  for (const d of LIBDIRS) {
    const p = path.join(d, name);
    if (fs.existsSync(p)) return fs.realpathSync(p);
  }
  return null;
}
/** Dynamic symbols defined (`nm -D --defined-only` lines) and how many of them are data. */
function symbolCounts(file) {
  const r = spawnSync("nm", ["-D", "--defined-only", file], { encoding: "utf8", maxBuffer: 1 << 28 });
  const lines = (r.stdout || "").split("\n").filter(Boolean);
  return { defined: lines.length, data: lines.filter((l) => / [BDRVGSu] /.test(l)).length };
}

// ---------------------------------------------------------------- tools

if (!fs.existsSync(path.join(repo, "dist", "cli", "main.js"))) die("dist/ is missing; run `npm run build` first");
for (const t of ["abidiff", "nm", "gcc"]) if (!have(t)) die(`${t} is required`);
const gnuTime = findGnuTime();

const env = {
  ...machineInfo(),
  abidiff: firstLine("abidiff --version"),
  abigailPackage: firstLine("dpkg-query -W -f '${Package} ${Version}' abigail-tools 2>/dev/null"),
  libc6Dbg: firstLine("dpkg-query -W -f '${Package} ${Version}' libc6-dbg 2>/dev/null"),
  gcc: firstLine("gcc --version"),
  gnuTime,
  loadavgStart: la(),
};
console.log(`abilink diff benchmark, ${env.date}`);
console.log(`${env.cpus} cores (${env.cpuModel}), ${env.kernel}, node ${env.node}, ${env.abidiff}, abilink ${env.abilink} at ${env.gitHead}`);

// ---------------------------------------------------------------- pairs

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "abilink-bench-diff-"));
const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
const emptyDir = path.join(tmp, "no-debug-info");
fs.mkdirSync(emptyDir);
const rel = (s) => String(s).split(tmp).join("TMP");

const cases = [];
function selfPair(id, name, runs) {
  const src = findLib(name);
  if (!src) return console.log(`skipping ${id}: ${name} not found`);
  const copy = path.join(tmp, `${id}-copy`, path.basename(src));
  fs.mkdirSync(path.dirname(copy));
  fs.copyFileSync(src, copy);
  cases.push({ id, what: `${path.basename(src)} against a byte-identical copy`, old: src, new: copy, runs });
}
selfPair("libc", "libc.so.6", args.runs);
selfPair("libstdc++", "libstdc++.so.6", args.runs);
{
  // The largest libLLVM: the largest dynamic symbol table on the machine.
  const llvm = fs
    .readdirSync("/usr/lib/x86_64-linux-gnu")
    .filter((n) => /^libLLVM-\d+\.so\.1$/.test(n))
    .sort((a, b) => Number(b.match(/\d+/)[0]) - Number(a.match(/\d+/)[0]));
  if (llvm.length) selfPair("libLLVM", llvm[0], args["large-runs"]);
  if (args["llvm-pair"]) {
    if (llvm.length < 2) die("--llvm-pair needs two libLLVM-N.so.1");
    const [newer, older] = [findLib(llvm[0]), findLib(llvm[1])];
    cases.push({ id: "libLLVM-pair", what: `${path.basename(older)} against ${path.basename(newer)}`, old: older, new: newer, runs: args["large-runs"], abidiffRuns: 1 });
  }
}
{
  const d = path.join(tmp, "demo");
  fs.mkdirSync(d);
  const b = buildDemoPair(d);
  if (b.error) die(`building the demo pair: ${b.error}`);
  cases.push({
    id: "demo",
    what: "libdemo.so.1 built twice with gcc: v2 drops demo_old, grows demo_table[4] to [8], adds demo_mul at DEMO_2.0, changes demo_sub's C signature",
    old: b.v1,
    new: b.v2,
    runs: args.runs,
  });
}
{
  // 10,000 functions gen_f0..gen_f9999 at GEN_1; v2 replaces every tenth by gen_g<i>.
  const d = path.join(tmp, "gen");
  for (const v of ["v1", "v2"]) fs.mkdirSync(path.join(d, v), { recursive: true });
  let a = "";
  let b = "";
  for (let i = 0; i < 10000; i++) {
    a += `int gen_f${i}(int x) { return x + ${i}; }\n`;
    b += i % 10 === 0 ? `int gen_g${i}(int x) { return x - ${i}; }\n` : `int gen_f${i}(int x) { return x + ${i}; }\n`;
  }
  fs.writeFileSync(path.join(d, "v1.c"), a);
  fs.writeFileSync(path.join(d, "v2.c"), b);
  fs.writeFileSync(path.join(d, "gen.map"), "GEN_1 { global: gen_*; local: *; };\n");
  for (const v of ["v1", "v2"]) {
    const r = sh(`gcc -shared -fPIC -O0 -o ${q(d)}/${v}/libgen.so.1 -Wl,-soname,libgen.so.1 -Wl,--version-script,${q(d)}/gen.map ${q(d)}/${v}.c`);
    if (r.status !== 0) die(`building libgen ${v}: ${r.stderr}`);
  }
  cases.push({
    id: "generated",
    what: "libgen.so.1 built twice with gcc: 10,000 functions at GEN_1, v2 replaces every tenth (1,000 removed, 1,000 added)",
    old: path.join(d, "v1", "libgen.so.1"),
    new: path.join(d, "v2", "libgen.so.1"),
    runs: args.runs,
  });
}

// ---------------------------------------------------------------- checks

/**
 * abidiff's symbol-level lines: `  [D] name@@V` removed, `  [A] name@@V` added (no debug
 * info). A symbol with aliases reads `  [D] name@@V, aliases other@@V`; each alias also has
 * its own line, so only the first name counts.
 */
function abidiffSymbols(text) {
  const removed = [];
  const added = [];
  for (const m of text.matchAll(/^ {2}\[([DA])\] ([^\s,]+)/gm)) (m[1] === "D" ? removed : added).push(m[2]);
  return { removed, added };
}
const bare = (s) => s.replace(/@.*$/, "");
/** What abilink and abidiff both list as removed and added symbols, and what only one lists. */
function agreement(changes, ds) {
  const aRemoved = changes.filter((x) => x.kind === "symbol-removed").map((x) => x.subject);
  const aAdded = changes.filter((x) => x.kind === "symbol-added").map((x) => x.subject);
  // abidiff lists a symbol as added only when its name is new (not when only its version is).
  const removedNames = new Set(aRemoved.map(bare));
  const aAddedNewName = aAdded.filter((x) => !removedNames.has(bare(x)));
  const minus = (x, y) => {
    const ys = new Set(y);
    return x.filter((e) => !ys.has(e));
  };
  const same = (x, y) => x.length === y.length && minus(x, y).length === 0;
  return {
    removed: { abilink: aRemoved.length, abidiff: ds.removed.length, same: same(aRemoved, ds.removed), onlyAbilink: minus(aRemoved, ds.removed).slice(0, 20), onlyAbidiff: minus(ds.removed, aRemoved).slice(0, 20) },
    added: {
      abilink: aAdded.length,
      abilinkWithNewName: aAddedNewName.length,
      abidiff: ds.added.length,
      same: same(aAdded, ds.added),
      sameNewNames: same(aAddedNewName, ds.added),
      onlyAbilink: minus(aAddedNewName, ds.added).slice(0, 20),
      onlyAbidiff: minus(ds.added, aAdded).slice(0, 20),
    },
    otherAbilinkChanges: changes
      .filter((x) => !["symbol-removed", "symbol-added"].includes(x.kind))
      .map((x) => `${x.kind} ${x.subject}${x.old !== null && x.new !== null ? ` (${x.old} -> ${x.new})` : ""}`)
      .slice(0, 20),
  };
}
const DWARF_RE = /building die|building the libabigail internal representation/;
const pairOut = path.join(resultsDir, "diff-pair-abidiff.tmp");

for (const c of cases) {
  c.oldBytes = fs.statSync(c.old).size;
  c.symbols = symbolCounts(c.old);
  const a = spawnSync("node", ["bin/abilink", "diff", "--json", c.old, c.new], { cwd: repo, encoding: "utf8", maxBuffer: 1 << 30 });
  c.abilinkJson = JSON.parse(a.stdout);
  const kinds = {};
  for (const ch of c.abilinkJson.changes) kinds[ch.kind] = (kinds[ch.kind] ?? 0) + 1;
  c.abilink = { exit: a.status, changes: c.abilinkJson.changes.length, incompatible: c.abilinkJson.changes.filter((x) => !x.compatible).length, kinds, stderr: a.stderr.trim() || null };
  if (c.abidiffRuns === 1) {
    // The LLVM pair: a check run would double abidiff's 14 minutes. The timed run writes its
    // report to a scratch file, compared after timing.
    c.abidiff = { exit: null, dwarf: null, note: "checked from the timed run's output" };
    continue;
  }
  const d = spawnSync("abidiff", [c.old, c.new], { encoding: "utf8", maxBuffer: 1 << 30 });
  const v = spawnSync("abidiff", ["--verbose", c.old, c.new], { encoding: "utf8", maxBuffer: 1 << 30 });
  const dwarf = DWARF_RE.test((v.stdout || "") + (v.stderr || ""));
  const ds = abidiffSymbols(d.stdout);
  c.abidiff = {
    exit: d.status,
    dwarf,
    outputLines: d.stdout.split("\n").length - 1,
    summary: d.stdout.split("\n").filter((l) => /summary:|SONAME changed/.test(l)),
    removedSymbols: ds.removed.length,
    addedSymbols: ds.added.length,
  };
  c.agreement = agreement(c.abilinkJson.changes, ds);
  if (dwarf) {
    const e = spawnSync("abidiff", ["--d1", emptyDir, "--d2", emptyDir, c.old, c.new], { encoding: "utf8", maxBuffer: 1 << 30 });
    const ev = spawnSync("abidiff", ["--verbose", "--d1", emptyDir, "--d2", emptyDir, c.old, c.new], { encoding: "utf8", maxBuffer: 1 << 30 });
    c.abidiffElfOnly = {
      exit: e.status,
      dwarf: DWARF_RE.test((ev.stdout || "") + (ev.stderr || "")),
      outputLines: e.stdout.split("\n").length - 1,
    };
    if (c.abidiffElfOnly.dwarf) die(`abidiff --d1/--d2 ${emptyDir} still read DWARF for ${c.old}`);
  }
  const g = c.agreement;
  console.log(
    `${c.id}: abilink exit ${c.abilink.exit}, ${c.abilink.changes} changes (${c.abilink.incompatible} incompatible); ` +
      `abidiff exit ${c.abidiff.exit}${dwarf ? " (reads DWARF)" : " (ELF symbols only)"}, ${c.abidiff.removedSymbols} removed / ${c.abidiff.addedSymbols} added symbols; ` +
      `same removed: ${g.removed.same}, same added: ${g.added.same}` +
      (g.otherAbilinkChanges.length ? `; only abilink: ${g.otherAbilinkChanges.join("; ")}` : ""),
  );
}

// ---------------------------------------------------------------- timing

for (const c of cases) {
  const cmds = [
    { id: "abilink", name: "abilink diff", cmd: `node bin/abilink diff ${q(c.old)} ${q(c.new)} > /dev/null 2>&1`, okExit: [c.abilink.exit] },
    {
      id: "abidiff",
      name: c.abidiff.dwarf ? "abidiff (reads DWARF)" : "abidiff",
      cmd: `abidiff ${q(c.old)} ${q(c.new)} > ${c.abidiffRuns === 1 ? q(path.relative(repo, pairOut)) : "/dev/null"} 2>&1`,
      okExit: c.abidiff.exit === null ? [0, 4, 12] : [c.abidiff.exit],
    },
  ];
  if (c.abidiffElfOnly) {
    cmds.push({ id: "abidiff-elf", name: "abidiff, ELF symbols only", cmd: `abidiff --d1 ${q(emptyDir)} --d2 ${q(emptyDir)} ${q(c.old)} ${q(c.new)} > /dev/null 2>&1`, okExit: [c.abidiffElfOnly.exit] });
  }
  const onRun = (cmd, r, round) => process.stdout.write(`  ${c.id} ${round < 0 ? "warm-up" : `round ${round + 1}`}: ${cmd.id} ${fmtS(r.wall)}\n`);
  c.loadavgBefore = la();
  if (c.abidiffRuns === 1) {
    c.timing = {
      ...timeAlternating([cmds[0]], c.runs, { gnuTime, scratch, label: `${c.id}: `, onRun }),
      ...timeAlternating([cmds[1]], 1, { gnuTime, scratch, label: `${c.id}: `, onRun, warmup: false }),
    };
    c.abidiff.exit = c.timing.abidiff.exitCodes[0];
    const text = fs.readFileSync(pairOut, "utf8");
    const ds = abidiffSymbols(text);
    c.abidiff = { ...c.abidiff, outputLines: text.split("\n").length - 1, summary: text.split("\n").filter((l) => /summary:|SONAME changed/.test(l)), removedSymbols: ds.removed.length, addedSymbols: ds.added.length };
    c.agreement = agreement(c.abilinkJson.changes, ds);
    fs.rmSync(pairOut, { force: true });
  } else {
    console.log(`timing ${c.id}: ${cmds.length} commands, ${c.runs} alternating rounds after 1 warm-up round…`);
    c.timing = timeAlternating(cmds, c.runs, { gnuTime, scratch, label: `${c.id}: `, onRun });
  }
  c.commands = cmds.map((x) => ({ id: x.id, name: x.name, command: rel(x.cmd) }));
}
const floor = timeAlternating(
  [
    { id: "node", cmd: "node -e 0" },
    { id: "sh", cmd: ":" },
  ],
  5,
  { gnuTime, scratch },
);
env.loadavgEnd = la();

// ---------------------------------------------------------------- summary

console.log();
for (const c of cases) {
  const base = c.timing.abilink.medianWall;
  console.log(`${c.id}: ${c.what} (${c.symbols.defined} defined dynamic symbols, ${c.symbols.data} data)`);
  for (const x of c.commands) {
    const t = c.timing[x.id];
    console.log(
      `  ${x.name.padEnd(28)} ${fmtS(t.medianWall).padStart(9)} (${fmtS(t.minWall)} … ${fmtS(t.maxWall)}, ${t.runs} runs)  user ${fmtS(t.medianUser)}  ` +
        `peak RSS ${fmtKiB(t.medianMaxRssKiB)}  ${(t.medianWall / base).toFixed(2)}x abilink`,
    );
  }
}
printFloorAndLoad(floor, env);

fs.writeFileSync(
  outJson,
  JSON.stringify(
    {
      env,
      method: "per pair, alternating rounds: 1 warm-up round, then `runs` rounds each running every command once (order rotated); wall time around `GNU time -f '%U %S %M' sh -c CMD`; medians. TMP is a temporary directory (copies, built libraries, an empty directory for --d1/--d2).",
      cases: cases.map((c) => ({
        id: c.id,
        what: c.what,
        old: rel(c.old),
        new: rel(c.new),
        oldBytes: c.oldBytes,
        oldSymbols: c.symbols,
        runs: c.runs,
        loadavgBefore: c.loadavgBefore,
        abilink: c.abilink,
        abidiff: c.abidiff,
        abidiffElfOnly: c.abidiffElfOnly ?? null,
        agreement: c.agreement ?? null,
        commands: c.commands.map((x) => ({ ...x, ...c.timing[x.id], ratioToAbilink: c.timing[x.id].medianWall / c.timing.abilink.medianWall })),
      })),
      floor: { nodeStartup: floor.node.medianWall, shOnly: floor.sh.medianWall, nodeStartupMaxRssKiB: floor.node.medianMaxRssKiB },
    },
    null,
    2,
  ) + "\n",
);
console.log(`wrote ${path.relative(repo, outJson)}`);
