// Step 5: the same idea for glibc, which no stub can take out of a build: two copies of this
// system's glibc as two builds in the store, system programs pointed at the first with
// `abilink patch`, moved onto the second with `abilink relink`, and ld.so's trace showing it.
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { DemoError } from "../errors.js";
import { withElfFile } from "../io/file-source.js";
import { relinkOut } from "./relink.js";
import type { Session } from "./session.js";
import { storePath } from "./store.js";
import type { DemoState, GlibcStep } from "./types.js";

/** glibc's libraries that exchange GLIBC_PRIVATE symbols: one build moves as a unit (those present are copied). */
const GLIBC = ["libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libresolv.so.2"];
const PROGRAMS = ["ls", "cat", "sort"];
/** `| head -1`, applied by the demo. */
const FIRST_LINE = { suffix: " | head -1", show: (r: { stdout: string }) => `${r.stdout.split("\n")[0]}\n` };

/** A program on PATH, as the shell would find it. */
function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    const p = join(dir || ".", name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

const interpreterOf = (path: string): string | null => withElfFile(path, (elf) => elf.interpreter) ?? null;

export async function glibcRelink(s: Session, state: DemoState): Promise<GlibcStep> {
  s.heading(5, "The same for glibc: two builds of this system's glibc, system programs moved from one to the other");
  const programs = PROGRAMS.map(onPath).filter((p): p is string => p !== null);
  const interpreter = programs[0] === undefined ? null : interpreterOf(programs[0]);
  if (interpreter === null || !existsSync(interpreter)) return skip(s, "no dynamically linked ls, cat or sort on PATH");
  const same = programs.filter((p) => interpreterOf(p) === interpreter);
  // ld.so itself says where libc is (ldd's way), wherever the distribution keeps it.
  const list = await s.run([interpreter, "--list", same[0]!], undefined, { expect: [0, 1, 127] });
  const libc = /^\s*libc\.so\.6 => (\/\S+)/m.exec(list.stdout)?.[1];
  if (libc === undefined) return skip(s, `${same[0]} does not load glibc's libc.so.6 (another C library?)`);
  const version = /(\d+\.\d+)\.?$/m.exec((await s.run([interpreter, "--version"], undefined, FIRST_LINE)).stdout.split("\n")[0]!)?.[1] ?? "system";
  const libdir = dirname(realpathSync(libc));
  const files = [[realpathSync(interpreter), basename(interpreter)], ...GLIBC.filter((l) => existsSync(join(libdir, l))).map((l) => [join(libdir, l), l])] as const;
  const builds: [string, string] = [storePath(state.store, `glibc-${version}`, ["a"]), storePath(state.store, `glibc-${version}-security-fix`, ["b"])];
  for (const b of builds) {
    mkdirSync(`${b}/lib`, { recursive: true });
    for (const [from, name] of files) copyFileSync(from, `${b}/lib/${name}`);
  }
  s.say(`copied ${files.map(([, n]) => n).join(", ")} (from ${libdir}) into both builds:\n${builds.join("\n")}`);
  const tools = storePath(state.store, "system-tools", same.map((p) => basename(p)));
  mkdirSync(`${tools}/bin`, { recursive: true });
  for (const p of same) copyFileSync(p, `${tools}/bin/${basename(p)}`);
  const copies = same.map((p) => `${tools}/bin/${basename(p)}`);
  const [a, b] = builds;
  s.say(`copies of ${same.join(", ")}, pointed at the first build as if built against it:`);
  await s.abilink(["patch", "--set-interpreter", `${a}/lib/${basename(interpreter)}`, "--set-runpath", `${a}/lib`, ...copies]);
  const out = storePath(state.store, "system-tools", [tools, b]);
  state.relinks.push(await relinkOut(s, tools, out, [[a, b]]));
  const bin = (name: string) => `${out}/bin/${name}`;
  s.say("the relinked programs run (cat shows step 3's table record):");
  if (same.some((p) => basename(p) === "cat")) await s.run([bin("cat"), `${state.table}/abilink-table`]);
  if (same.some((p) => basename(p) === "sort")) await s.run([bin("sort"), "--version"], undefined, FIRST_LINE);
  const trace = await s.run([bin(basename(copies[0]!)), "--version"], undefined, {
    env: { LD_DEBUG: "libs" },
    suffix: " 2>&1 >/dev/null | grep -o 'calling init: .*'",
    show: (r) => initLines(r.stderr).map((l) => `calling init: ${l}\n`).join(""),
  });
  const loaded = initLines(trace.stderr);
  for (const name of [basename(interpreter), "libc.so.6"]) {
    if (!loaded.includes(`${b}/lib/${name}`)) throw new DemoError(s.short(`step 5: ld.so did not load ${name} from ${b}/lib (LD_DEBUG=libs: ${loaded.join(" ")})`));
  }
  s.say(`ld.so and libc from the second build (${basename(b)}); the rest is the system's, outside the closure`);
  return { interpreter, libc, builds, programs: copies.map((c) => c.replace(tools, out)), loaded };
}

/** The objects ld.so initialised, from LD_DEBUG=libs. */
const initLines = (trace: string): string[] => [...trace.matchAll(/calling init: (\S+)/g)].map((m) => m[1]!);

function skip(s: Session, why: string): GlibcStep {
  s.say(`skipped: ${why}`);
  return { skipped: why };
}
