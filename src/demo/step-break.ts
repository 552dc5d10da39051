// Step 4: libdemo 2.0 breaks the ABI (demo_greet@DEMO_0.9 removed, demo_info grown): diff says
// so (exit 12), a table with --expect is refused, relink onto a table without it is refused,
// and the programs still run with 1.0.1.
import { existsSync } from "node:fs";
import { DemoError } from "../errors.js";
import { relinkOut } from "./relink.js";
import { runPrograms } from "./rollout.js";
import type { Session } from "./session.js";
import { expectPrinted, hashes } from "./step-link.js";
import { storePath } from "./store.js";
import type { BreakStep, DemoState } from "./types.js";

/** diff's, table's and relink's status for an incompatible change. */
const INCOMPATIBLE = 12;

export async function abiBreak(s: Session, state: DemoState): Promise<BreakStep> {
  s.heading(4, "An ABI break, libdemo 2.0: refused by diff, table --expect and relink; nothing changes");
  const lib = state.libdemo["2.0"];
  const [fixed, hash] = hashes((await s.abilink(["hash", state.libdemo["1.0.1"], lib])).stdout);
  if (fixed === hash) throw new DemoError("step 4: libdemo 2.0 has 1.0.1's ABI hash");
  const refused = { expect: [INCOMPATIBLE] };
  const diffExit = (await s.abilink(["diff", state.manifest, lib], refused)).exitCode;
  const table = storePath(state.store, "libdemo-table-2.0", [lib, hash!]);
  const tableExpectExit = (await s.abilink(["table", "--out", table, "--expect", state.manifest, lib], refused)).exitCode;
  if (existsSync(table)) throw new DemoError("step 4: table --expect refused, yet wrote the table");
  s.say("a table made without --expect is written; relink checks every binary against it before writing anything:");
  await s.abilink(["table", "--out", table, lib]);
  const hello = state.packages.hello;
  const out = storePath(state.store, "hello-1.0", [hello, table]);
  const r = await relinkOut(s, hello, out, [[state.table, table]], [INCOMPATIBLE]);
  // Refused for the reason the next comment gives, not for any other exit 12.
  const relinkRefused = r.refused.flatMap((f) => f.problems);
  if (!relinkRefused.some((p) => /^copy-grown demo_info@/.test(p))) throw new DemoError(`step 4: relink refused hello, but not for demo_info's copy: ${relinkRefused.join("; ") || "no problem reported"}`);
  s.say("hello holds a copy of demo_info made at load time (a copy relocation): 2.0's larger object would not fit.\nNothing was written; the programs still run with libdemo 1.0.1:");
  const printed = await runPrograms(s, state);
  expectPrinted(s, printed, "1.0.1");
  return { hash: hash!, diffExit, tableExpectExit, relinkExit: r.exitCode, relinkWrote: existsSync(out), relinkRefused, printed };
}
