// Builds shared libraries with gcc from a description of their versioned definitions, a
// program linked against one of them, and runs that program under ld.so with another in
// place: the oracle for diff's and compat's binding rules.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";

/** One definition of a function: `name` (version null), `name@V` (hidden) or `name@@V`. */
export interface FuncDef {
  version: string | null;
  hidden: boolean;
}

export interface LibLayout {
  /** Version nodes in script order: the first is index 2. Empty: no version script. */
  versions: string[];
  /** Definitions by function name (none: the name is not defined). */
  funcs: Record<string, FuncDef[]>;
  /** Call a versioned libc function, so that the library has a .gnu.version table even without versions. */
  usesLibc: boolean;
}

/** How a definition prints itself when called: its key as readelf writes it. */
export const defKey = (name: string, d: FuncDef) => (d.version === null ? name : `${name}${d.hidden ? "@" : "@@"}${d.version}`);

const implName = (name: string, i: number) => `impl_${name}_${i}`;

/** Writes and compiles `dir/libt.so.1` (SONAME libt.so.1) for a layout. */
export async function buildLibrary(dir: string, layout: LibLayout): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const c: string[] = [];
  if (layout.usesLibc) c.push("#include <string.h>", "static volatile unsigned long abt_len;");
  for (const [name, defs] of Object.entries(layout.funcs)) {
    defs.forEach((d, i) => {
      const body = `{ ${layout.usesLibc ? `abt_len = strlen("${name}"); ` : ""}return "${defKey(name, d)}"; }`;
      if (d.version === null) {
        c.push(`const char *${name}(void) ${body}`);
      } else {
        c.push(`const char *${implName(name, i)}(void) ${body}`);
        c.push(`__asm__(".symver ${implName(name, i)}, ${defKey(name, d)}");`);
      }
    });
  }
  const src = join(dir, "libt.c");
  writeFileSync(src, c.join("\n") + "\n");
  const args = ["-shared", "-fPIC", "-O1", "-o", join(dir, "libt.so.1"), "-Wl,-soname,libt.so.1", src];
  if (layout.versions.length > 0) {
    // Names without a version stay global (index 1); the implementations are made local.
    const nodes = layout.versions.map((v, i) => `${v} { ${i === layout.versions.length - 1 ? "local: impl_*;" : ""} };`);
    writeFileSync(join(dir, "libt.map"), nodes.join("\n") + "\n");
    args.push(`-Wl,--version-script=${join(dir, "libt.map")}`);
  }
  await execa("gcc", args);
  return join(dir, "libt.so.1");
}

/** A program that calls `names` and prints what each call returns, linked against `lib`. */
export async function buildProgram(dir: string, lib: string, names: string[]): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const src = join(dir, "prog.c");
  writeFileSync(
    src,
    [
      "#include <stdio.h>",
      ...names.map((n) => `const char *${n}(void);`),
      "int main(void) {",
      ...names.map((n) => `  printf("${n}=%s\\n", ${n}());`),
      "  return 0;",
      "}",
    ].join("\n") + "\n",
  );
  const prog = join(dir, "prog");
  await execa("gcc", ["-o", prog, src, lib, "-Wl,--no-as-needed"]);
  return prog;
}

/** What ld.so did with the program and the library in `libDir`, every symbol bound at start. */
export interface LoaderRun {
  exitCode: number;
  stderr: string;
  /** name → the key of the definition it called. */
  bound: Map<string, string>;
  /** Ran, and the loader said nothing. */
  clean: boolean;
}

export async function runWithLibrary(prog: string, libDir: string): Promise<LoaderRun> {
  const r = await execa(prog, [], { reject: false, env: { LD_BIND_NOW: "1", LD_LIBRARY_PATH: libDir }, extendEnv: false });
  const bound = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) bound.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const exitCode = r.exitCode ?? -1;
  return { exitCode, stderr: r.stderr, bound, clean: exitCode === 0 && r.stderr === "" };
}
