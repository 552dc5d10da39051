// Step 3: libdemo 1.0.1, a security fix with the same ABI: the same hash and stub bytes, a new
// table, the packages relinked onto it; every command runs with a PATH that holds no compiler.
import { existsSync, mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { DemoError } from "../errors.js";
import { rollOut, runPrograms } from "./rollout.js";
import type { Session } from "./session.js";
import { expectPrinted, hashes, sha256 } from "./step-link.js";
import { storePath } from "./store.js";
import type { DemoState, FixStep } from "./types.js";

/** The tools a rebuild would need: none may be on step 3's PATH. */
const COMPILERS = ["gcc", "cc", "ld", "as"];

export async function securityFix(s: Session, state: DemoState): Promise<FixStep> {
  s.heading(3, "A security fix, libdemo 1.0.1 (same ABI): a new table, relink onto it, no compiler");
  const path = `${state.work}/bin-no-compiler`;
  mkdirSync(path);
  symlinkSync(process.execPath, `${path}/node`);
  s.say(`libdemo 1.0.1 fixes demo_greet, which wrote past the caller's buffer (built in step 1, by libdemo's own build).\nEvery command of this step runs with PATH=${path}, which holds only a link to node:`);
  s.path = path;
  try {
    const found = await s.run(["/bin/sh", "-c", `command -v ${COMPILERS.join(" ")}`], undefined, { expect: [1, 127], show: (r) => r.stdout || "(nothing found)\n" });
    if (found.stdout.trim() !== "") throw new DemoError(s.short(`step 3: a compiler is on PATH=${path}: ${found.stdout.trim()}`));
    const lib = state.libdemo["1.0.1"];
    const [before, hash] = hashes((await s.abilink(["hash", state.libdemo["1.0"], lib])).stdout);
    if (before !== hash) throw new DemoError(`step 3: libdemo 1.0.1's ABI hash ${hash} is not 1.0's (${before})`);
    const diffExit = (await s.abilink(["diff", state.manifest, lib])).exitCode;
    s.say("the same hash, no ABI change: 1.0.1 provides the committed manifest, so its stub is the same one:");
    const check = `${state.work}/stub-again`;
    mkdirSync(check);
    await s.abilink(["stub", state.manifest, "-o", `${check}/libdemo.so.1`]);
    const stubSha256 = sha256(`${check}/libdemo.so.1`);
    if (stubSha256 !== state.stubSha256) throw new DemoError(`step 3: the stub's sha256 ${stubSha256} is not step 2's (${state.stubSha256})`);
    s.say(`sha256 ${stubSha256}: step 2's stub, byte for byte.\nlibgreeting, hello and banner were linked against exactly these bytes: their compile and link steps\nwould be cache hits. Only the table and the relink change:`);
    const table = storePath(state.store, "libdemo-table-1.0.1", [lib, hash!]);
    await s.abilink(["table", "--out", table, "--expect", state.manifest, lib]);
    await rollOut(s, state, state.table, table);
    const printed = await runPrograms(s, state);
    expectPrinted(s, printed, "1.0.1");
    const pathEntries = readdirSync(path).sort();
    if (COMPILERS.some((c) => existsSync(`${path}/${c}`))) throw new DemoError(`step 3: a compiler appeared in ${path}`);
    return { hash: hash!, diffExit, stubSha256, path, pathEntries, table, printed };
  } finally {
    s.path = undefined;
  }
}
