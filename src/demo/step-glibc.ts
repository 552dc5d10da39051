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

/** compat's load set, as one line: `loads NAME (PATH), …`. */
const loadedLine = (json: string): string => {
  try {
    return `loads ${(JSON.parse(json) as { loaded: { name: string; path: string }[] }).loaded.slice(1).map((l) => `${l.name} (${l.path})`).join(", ")}`;
  } catch {
    return json;
  }
};

/** glibc's release as its libc says it (the highest GLIBC_x.y version it defines), without running it. */
function glibcVersion(libc: string): string {
  const names = withElfFile(libc, (elf) => elf.versionDefinitions.map((d) => d.name)) ?? [];
  const releases = names.map((n) => /^GLIBC_(\d+)\.(\d+)$/.exec(n)).filter((m): m is RegExpExecArray => m !== null);
  const best = releases.sort((a, b) => Number(b[1]) - Number(a[1]) || Number(b[2]) - Number(a[2]))[0];
  return best ? `${best[1]}.${best[2]}` : "system";
}

/** The program's ELF interpreter (ld.so), or null: no PT_INTERP, not ELF (a script), or unreadable. */
function interpreterOf(path: string): string | null {
  try {
    return withElfFile(path, (elf) => elf.interpreter) ?? null;
  } catch {
    return null;
  }
}

/** The interpreter of the first of PROGRAMS that is a dynamically linked ELF program, whose ld.so exists; null when none is. */
export function firstInterpreter(programs: string[]): string | null {
  for (const p of programs) {
    const interpreter = interpreterOf(p);
    if (interpreter !== null && existsSync(interpreter)) return interpreter;
  }
  return null;
}

export async function glibcRelink(s: Session, state: DemoState): Promise<GlibcStep> {
  s.heading(5, "The same for glibc: two builds of this system's glibc, system programs moved from one to the other");
  const programs = PROGRAMS.map(onPath).filter((p): p is string => p !== null);
  const interpreter = firstInterpreter(programs);
  if (interpreter === null) return skip(s, "no dynamically linked ls, cat or sort on PATH");
  const same = programs.filter((p) => interpreterOf(p) === interpreter);
  // Where libc is, as ld.so would find it, without running anything: compat's emulation.
  const load = await s.abilink(["compat", "--json", same[0]!], { expect: [0, 12], show: (r) => `${loadedLine(r.stdout)}\n` });
  const libc = (JSON.parse(load.stdout) as { loaded: { name: string; path: string }[] }).loaded.find((l) => l.name === "libc.so.6")?.path;
  if (libc === undefined) return skip(s, `${same[0]} does not load glibc's libc.so.6 (another C library?)`);
  const version = glibcVersion(libc);
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
