// `abilink demo`: the whole story in one run, in a temporary directory (kept with --keep DIR).
// Each step is a module; this one makes the directory, runs the steps in order, adds the
// summary and removes the directory.
import { execa } from "execa";
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { constants as osConstants, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DemoError } from "../errors.js";
import { PACKAGE_ROOT, Session } from "./session.js";
import { abiBreak } from "./step-break.js";
import { securityFix } from "./step-fix.js";
import { glibcRelink } from "./step-glibc.js";
import { buildStore, linkAgainstStub } from "./step-link.js";
import type { DemoResult, DemoState, DemoSummary } from "./types.js";

/** The signals that end the demo early, each removing its directory first. */
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

export interface DemoOptions {
  /** Work in DIR (made; it must not exist) and keep it. */
  keep?: string;
  /** Where the transcript goes, a piece at a time; null for none (--json). */
  print: ((text: string) => void) | null;
}

/** Runs the demo. Throws DemoError (one line) when a step does not give what it shows. */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const started = performance.now();
  if ((await execa("gcc", ["--version"], { reject: false, stdin: "ignore" })).exitCode !== 0) {
    throw new DemoError("gcc is not installed: the demo compiles a small library and two programs (Debian: apt-get install gcc)");
  }
  const dir = opts.keep === undefined ? mkdtempSync(join(tmpdir(), "abilink-demo-")) : makeKept(resolve(opts.keep));
  let session: Session | null = null;
  let stopping = false;
  // Interrupted, hung up or terminated: the running command ended, the directory removed (not
  // a kept one), exit 128 + the signal's number, as a shell reports a process it killed.
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await session?.stop();
      if (opts.keep === undefined) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      process.exit(128 + osConstants.signals[signal]);
    })();
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  try {
    const real = realpathSync(dir);
    const s = (session = new Session(real, opts.print));
    s.write(`abilink demo: a library's fix reaches its programs by relinking, without recompiling them\n`);
    s.write(`# D=${real}${opts.keep === undefined ? " (removed at the end; --keep DIR keeps it)" : ""}\n# commands run in ${PACKAGE_ROOT} (demo/ holds the C sources)`, true);
    const state: DemoState = { store: `${real}/store`, work: `${real}/work`, libdemo: {} as DemoState["libdemo"], manifest: "", stub: "", stubSha256: "", table: "", packages: { greeting: "", hello: "", banner: "" }, relinks: [] };
    mkdirSync(state.work, { recursive: true });
    const build = await buildStore(s, state);
    state.libdemo = build.libdemo;
    const link = await linkAgainstStub(s, state);
    const fix = await securityFix(s, state);
    const broke = await abiBreak(s, state);
    const glibc = await glibcRelink(s, state);
    const summary = summarize(s, state);
    const seconds = (performance.now() - started) / 1000;
    s.write(`\nabilink demo: done in ${seconds.toFixed(1)} s${opts.keep === undefined ? "" : `; everything is in ${real}`}`);
    return { dir: real, kept: opts.keep !== undefined, seconds, steps: { build, link, fix, break: broke, glibc }, summary, commands: s.commands };
  } finally {
    for (const signal of SIGNALS) process.off(signal, onSignal);
    if (opts.keep === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

function makeKept(dir: string): string {
  try {
    mkdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DemoError(`--keep ${dir}: ${code === "EEXIST" ? "exists (give a new directory)" : code === "ENOENT" ? "its parent does not exist" : String((e as Error).message)}`);
  }
  return dir;
}

function summarize(s: Session, state: DemoState): DemoSummary {
  const done = state.relinks.filter((r) => r.written);
  const sum = (f: (r: (typeof done)[number]) => number) => done.reduce((n, r) => n + f(r), 0);
  const summary: DemoSummary = {
    compilesAfterStep2: s.commands.filter((c) => c.step > 2 && /(^|\/)(gcc|cc|ld|as)$/.test(c.argv[0]!)).length,
    rewritten: { files: sum((r) => r.rewritten), bytes: sum((r) => r.bytesWritten), bytesGrown: sum((r) => r.bytesGrown), seconds: sum((r) => r.seconds), relinks: done.length },
  };
  const w = summary.rewritten;
  s.write("\n== Summary");
  s.write(
    `rebuilt: nothing. ${summary.compilesAfterStep2} compiler runs after step 2: the fix (step 3) and the glibc move (step 5)\n` +
      `  reached the programs without compiling or linking them again; step 4's break was refused.\n` +
      `rewritten: ${w.files} files by ${w.relinks} relink runs (steps 2, 3 and 5), ${(w.bytes / 1024).toFixed(1)} KiB written ` +
      `(${w.bytesGrown} bytes grown), ${w.seconds.toFixed(1)} s in all`,
  );
  return summary;
}
