// Moving the demo's packages (libgreeting, hello, banner) from where libdemo is now (the stub,
// or a table) onto a table: one `relink --out` per package, each a new store path, libgreeting
// first (banner's RUNPATH names it, so banner moves to its new path too); then the programs run.
import { relinkOut } from "./relink.js";
import type { Session } from "./session.js";
import { printedVersion, storePath, type Unlinked } from "./store.js";
import type { DemoState } from "./types.js";

/** Relinks the packages from OLD (the stub's or the current table's path) onto TABLE; the state moves with them. */
export async function rollOut(s: Session, state: DemoState, old: string, table: string): Promise<void> {
  const from = state.packages;
  const name = (p: string) => p.replace(/^.*?\/[0-9a-z]{32}-/, "").replace(/-unlinked$/, "");
  const to: Unlinked = {
    greeting: storePath(state.store, name(from.greeting), [from.greeting, table]),
    hello: storePath(state.store, name(from.hello), [from.hello, table]),
    banner: storePath(state.store, name(from.banner), [from.banner, table]),
  };
  state.relinks.push(await relinkOut(s, from.greeting, to.greeting, [[old, table]]));
  state.relinks.push(await relinkOut(s, from.hello, to.hello, [[old, table]]));
  state.relinks.push(await relinkOut(s, from.banner, to.banner, [[old, table], [from.greeting, to.greeting]]));
  state.packages = to;
  state.table = table;
}

/** Runs hello and banner as they are now: the libdemo version each printed. */
export async function runPrograms(s: Session, state: DemoState): Promise<{ hello: string; banner: string }> {
  return {
    hello: await printedVersion(s, `${state.packages.hello}/bin/hello`),
    banner: await printedVersion(s, `${state.packages.banner}/bin/banner`),
  };
}
