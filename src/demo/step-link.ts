// Steps 1 and 2: libdemo's builds; its manifest checked against the committed one, the stub made
// from that manifest, libgreeting and the programs linked against the stub, table 1, relink.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { parseManifest } from "../abi/format.js";
import type { AbiManifest } from "../abi/manifest.js";
import { machineName } from "../elf/index.js";
import { DemoError } from "../errors.js";
import { rollOut, runPrograms } from "./rollout.js";
import { PACKAGE_ROOT, type Session } from "./session.js";
import { buildAgainstStub, buildLibdemo, COMMITTED_MANIFEST, RELEASES, storePath, type Release } from "./store.js";
import type { BuildStep, DemoState, LinkStep } from "./types.js";

export const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** The hashes `abilink hash` printed, in input order. */
export const hashes = (stdout: string): string[] => stdout.trim().split("\n").map((l) => l.split(/\s+/)[0]!);

/** The versions the programs printed must be WANT. */
export function expectPrinted(s: Session, printed: { hello: string; banner: string }, want: string): void {
  for (const [program, version] of Object.entries(printed)) {
    if (version !== want) throw new DemoError(`step ${s.step}: ${program} printed libdemo ${version}, not ${want}`);
  }
}

export async function buildStore(s: Session, state: Pick<DemoState, "store">): Promise<BuildStep> {
  s.heading(1, "A store built from demo/*.c: libdemo 1.0, its security fix 1.0.1, an ABI-breaking 2.0");
  s.say(
    "libdemo exports demo_greet in two versions (demo_greet@DEMO_0.9 for old programs, demo_greet@@DEMO_1.0),\n" +
      "demo_version, and a data object, demo_info. These are libdemo's own builds (a library always compiles);\n" +
      "each package is a store path, $D/store/<hash>-<name>.",
  );
  const libdemo = {} as Record<Release, string>;
  for (const release of Object.keys(RELEASES) as Release[]) libdemo[release] = await buildLibdemo(s, state.store, release);
  return { libdemo };
}

/** The manifest the demo calls committed, and why, when it is not demo/libdemo.abi. */
export interface PickedManifest {
  /** As the commands name it: COMMITTED_MANIFEST, or FRESH's path. */
  path: string;
  /** Null when the committed manifest is for this build's target; else one line saying how they differ. */
  otherTarget: string | null;
}

const target = (m: AbiManifest): string => `${machineName(m.e_machine, m.class)} (class ${m.class}, data ${m.data})`;

/**
 * The committed manifest, or, when it was made for another target (class, data or machine) than
 * this system's 1.0 build (whose `abi --hints` is FRESH), that build's manifest in its place: the
 * committed one's hash is then another target's, which no build here provides.
 */
export function pickManifest(committed: { path: string; text: string }, fresh: { path: string; text: string }): PickedManifest {
  const [c, f] = [parseManifest(committed.text, committed.path), parseManifest(fresh.text, fresh.path)];
  if (c.class === f.class && c.data === f.data && c.e_machine === f.e_machine) return { path: committed.path, otherTarget: null };
  return {
    path: fresh.path,
    otherTarget: `${committed.path} is for ${target(c)}, this build for ${target(f)}: from here on ${fresh.path}, made above from this build, stands in for it`,
  };
}

export async function linkAgainstStub(s: Session, state: DemoState): Promise<LinkStep> {
  s.heading(2, "Link against a stub, not the library; a table of libdemo 1.0; relink onto it");
  const lib = state.libdemo["1.0"];
  await s.abilink(["abi", lib]);
  const fresh = `${state.work}/libdemo-1.0.abi`;
  await s.abilink(["abi", "--hints", lib, "-o", fresh]);
  const committedText = readFileSync(`${PACKAGE_ROOT}/${COMMITTED_MANIFEST}`, "utf8");
  const freshText = readFileSync(fresh, "utf8");
  const picked = pickManifest({ path: COMMITTED_MANIFEST, text: committedText }, { path: fresh, text: freshText });
  const manifest = (state.manifest = picked.path);
  const manifestIdentical = freshText === committedText;
  if (picked.otherTarget !== null) {
    s.say(picked.otherTarget);
  } else {
    s.say(
      manifestIdentical
        ? `byte for byte ${COMMITTED_MANIFEST}, the committed manifest (made by this command from a 1.0 build, link hints included)`
        : `not byte for byte ${COMMITTED_MANIFEST} (committed from another system's build: its link hints differ); the hashes must agree`,
    );
  }
  const [hash, committedHash] = hashes((await s.abilink(["hash", lib, manifest])).stdout);
  if (hash !== committedHash) throw new DemoError(s.short(`step 2: this build of libdemo 1.0 does not provide ${manifest} (${hash} vs ${committedHash})`));
  s.say("one hash: the build provides the committed manifest. The stub is made from that manifest alone,\nso its store path and bytes depend on the ABI, not on any build of libdemo:");
  const stub = storePath(state.store, "libdemo-stub", [picked.otherTarget === null ? committedText : freshText]);
  mkdirSync(`${stub}/lib`, { recursive: true });
  await s.abilink(["stub", manifest, "-o", `${stub}/lib/libdemo.so.1`]);
  const stubSha256 = sha256(`${stub}/lib/libdemo.so.1`);
  s.say(`the stub: ${statSync(`${stub}/lib/libdemo.so.1`).size} bytes, no code (the library: ${statSync(lib).size}); sha256 ${stubSha256}`);
  s.say("libgreeting (a second library on libdemo), hello and banner, compiled and linked against the stub:");
  state.packages = await buildAgainstStub(s, state.store, stub);
  const unlinked = state.packages;
  s.say("linked against the stub, their RUNPATH names it, and ld.so refuses to load a stub: nothing runs yet");
  const stubRun = await s.run([`${unlinked.hello}/bin/hello`], undefined, { expect: [127] });
  // ld.so's one line: the stub's segment misaligned on purpose (glibc: "ELF load command
  // address/offset not page-aligned"), named by its SONAME; not a library it cannot find.
  const stubRunError = s.short(stubRun.stderr.trim().split("\n")[0] ?? "");
  if (!stubRunError.includes("libdemo.so.1") || /cannot open shared object/.test(stubRunError)) {
    throw new DemoError(`step 2: hello, linked against the stub, failed for another reason than ld.so refusing the stub: ${stubRunError}`);
  }
  const table = storePath(state.store, "libdemo-table-1.0", [lib, hash!]);
  await s.abilink(["table", "--out", table, "--expect", manifest, lib]);
  s.say(
    "relink --replace STUB=TABLE moves each package onto the table, as a new store path (libgreeting first: banner's\n" +
      "RUNPATH names it). relink runs with --json, for the summary; its plan, check and summary are shown as text:",
  );
  await rollOut(s, state, stub, table);
  const printed = await runPrograms(s, state);
  expectPrinted(s, printed, "1.0");
  state.stub = stub;
  state.stubSha256 = stubSha256;
  return { hash: hash!, committedHash: committedHash!, manifest, otherTarget: picked.otherTarget, manifestIdentical, stub, stubSha256, stubRunExit: stubRun.exitCode, stubRunError, unlinked, table, printed };
}
