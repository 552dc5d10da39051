// What `abilink demo --json` reports: each step's key results, the commands, the summary.
import type { Relinked } from "./relink.js";
import type { DemoCommand } from "./session.js";
import type { Release, Unlinked } from "./store.js";

/** Step 1: libdemo's three builds. */
export interface BuildStep {
  libdemo: Record<Release, string>;
}

/** Step 2: the stub from the committed manifest, the packages linked against it, table 1. */
export interface LinkStep {
  hash: string;
  committedHash: string;
  /**
   * The manifest the demo calls committed: demo/libdemo.abi, or, when that is another target's
   * (class, data or machine), the 1.0 build's `abi --hints` ($D/work/libdemo-1.0.abi).
   */
  manifest: string;
  /** Null, or how demo/libdemo.abi's target differs from this build's (the transcript's line). */
  otherTarget: string | null;
  /** The 1.0 build's `abi --hints` has the committed manifest's bytes (link hints included). */
  manifestIdentical: boolean;
  stub: string;
  stubSha256: string;
  /** The status of a program linked against the stub, run before relinking (ld.so refuses the stub). */
  stubRunExit: number;
  /** ld.so's message for it, naming the stub (libdemo.so.1) and why it refused it. */
  stubRunError: string;
  unlinked: Unlinked;
  table: string;
  printed: { hello: string; banner: string };
}

/** Step 3: libdemo 1.0.1, table 2, with no compiler on PATH. */
export interface FixStep {
  hash: string;
  diffExit: number;
  stubSha256: string;
  /** The PATH of every command of the step, and what that directory holds. */
  path: string;
  pathEntries: string[];
  table: string;
  printed: { hello: string; banner: string };
}

/** Step 4: libdemo 2.0, refused three ways. */
export interface BreakStep {
  hash: string;
  diffExit: number;
  tableExpectExit: number;
  relinkExit: number;
  /** Whether relink's DIR exists after the refusal. */
  relinkWrote: boolean;
  /** Why relink refused hello: each problem's kind and subject (`copy-grown demo_info@DEMO_0.9`). */
  relinkRefused: string[];
  printed: { hello: string; banner: string };
}

/** Step 5: this system's glibc as two builds, system programs relinked from one to the other. */
export type GlibcStep =
  | { skipped: string }
  | {
      interpreter: string;
      libc: string;
      builds: [string, string];
      programs: string[];
      /** The objects ld.so initialised, from LD_DEBUG=libs ("calling init: PATH"), for the relinked ls. */
      loaded: string[];
    };

export interface DemoSummary {
  /** gcc runs after step 2 (0: nothing rebuilt). */
  compilesAfterStep2: number;
  rewritten: { files: number; bytes: number; bytesGrown: number; seconds: number; relinks: number };
}

export interface DemoResult {
  dir: string;
  kept: boolean;
  seconds: number;
  steps: { build: BuildStep; link: LinkStep; fix: FixStep; break: BreakStep; glibc: GlibcStep };
  summary: DemoSummary;
  commands: DemoCommand[];
}

/** What the steps hand on: the store, the current table and relinked packages, the relinks done. */
export interface DemoState {
  store: string;
  work: string;
  libdemo: Record<Release, string>;
  /** The manifest the demo calls committed (LinkStep's `manifest`). */
  manifest: string;
  stub: string;
  stubSha256: string;
  table: string;
  packages: Unlinked;
  relinks: Relinked[];
}
