// `abilink stub` over many inputs: stubs built by the worker pool, GNU ld linker scripts
// expanded into the shared objects they name (and written again, naming the stubs), every
// output checked for clashes before anything is written, then written atomically.
import { mkdirSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { InputError, OutputError } from "../errors.js";
import { holdWorkDir, writeFileAtomic, writeFileIfChanged } from "../io/atomic-write.js";
import { fsPath } from "../io/paths.js";
import { rewriteScript, scriptInputs } from "../stub/linker-script.js";
import { failure, type Failure, type StubOutcome } from "./outcomes.js";
import { runOrdered } from "./pool.js";

export interface StubOptions {
  /** The one output file (one input, not a linker script). */
  output?: string;
  /** Each stub as DIR/<SONAME>; linker scripts beside them. */
  outDir?: string;
  /** Leave an output that already has these bytes untouched (mtime included). */
  writeIfChanged?: boolean;
  /** fsync each output before its rename (off: a build's outputs, rebuilt after a crash). */
  durable?: boolean;
  jobs: number;
  onProgress?: (done: number, total: number) => void;
}

/** What happened to one output. */
export interface StubRecord {
  /** The library, manifest or linker script it was made from (the JSON convention's `path`: the input). */
  path: string;
  output: string;
  kind: "stub" | "script";
  soname: string | null;
  /** False when --write-if-changed found the same bytes there. */
  written: boolean;
  /** For a linker script: the inputs it now names in place of the libraries, in order. */
  replaced?: { from: string; to: string }[];
}

export interface StubResult {
  records: StubRecord[];
  failures: Failure[];
}

/** Inputs a linker script names that are linked in as they are: archives and objects. */
const keptAsIs = (path: string) => /\.(a|o|lo)$/.test(path);

/** dev:ino of a regular file (through symbolic links), or null. */
function fileId(path: string): string | null {
  try {
    const st = statSync(fsPath(path));
    return st.isFile() ? `${st.dev}:${st.ino}` : null;
  } catch {
    return null;
  }
}

export async function stubFiles(inputs: readonly string[], options: StubOptions): Promise<StubResult> {
  const failures: Failure[] = [];
  const outcomes = new Map<string, StubOutcome>();
  let done = 0;
  const run = async (items: string[]) => {
    const total = done + items.length;
    await runOrdered("stub", items[Symbol.iterator](), (r) => {
      outcomes.set(r.path, r);
      options.onProgress?.(++done, total);
    }, { jobs: options.jobs, inline: 4, batch: 1 });
  };
  await run([...new Set(inputs)]);

  // Linker scripts: their shared objects become stubs too.
  const scripts: { path: string; text: string; members: ReturnType<typeof scriptInputs> }[] = [];
  for (const path of inputs) {
    const r = outcomes.get(path)!;
    if (r.kind !== "script" || scripts.some((s) => s.path === path)) continue;
    if (options.outDir === undefined) {
      failures.push(failure(path, new InputError("is a GNU ld linker script: give --out-dir, so that the stubs of the libraries it names go beside its copy")));
      continue;
    }
    try {
      scripts.push({ path, text: r.text, members: scriptInputs(r.text) });
    } catch (e) {
      failures.push(failure(path, new InputError(`is a malformed linker script: ${(e as Error).message}`)));
    }
  }
  const scriptMembers = new Set(scripts.flatMap((s) => s.members.map((m) => m.path)));
  const members = [...scriptMembers].filter((p) => !keptAsIs(p) && !outcomes.has(p));
  if (members.length > 0) await run(members);

  // Every stub's destination, clashes refused before anything is written. An output must
  // never replace an input (a stub written over its own library, `--out-dir .`).
  const planned = new Map<string, { input: string; soname: string | null; bytes: Uint8Array }>();
  const destOf = new Map<string, string>();
  const inputIds = new Set<string>();
  for (const p of [...inputs, ...members]) {
    const id = fileId(p);
    if (id) inputIds.add(id);
  }
  const replacesInput = (input: string, dest: string): boolean => {
    const id = fileId(dest);
    if (id === null || !inputIds.has(id)) return false;
    failures.push(failure(input, new InputError(`would be written over an input (${dest}): choose another output`)));
    return true;
  };
  const plan = (input: string): string | null => {
    const r = outcomes.get(input)!;
    if (r.kind === "error") return null;
    if (r.kind === "script") {
      failures.push(failure(input, new InputError("is a GNU ld linker script, named inside another one: not supported")));
      return null;
    }
    if (destOf.has(input)) return destOf.get(input)!;
    let dest: string;
    if (options.outDir !== undefined) {
      if (r.soname === null || r.soname === "" || r.soname.includes("/") || r.soname === "." || r.soname === "..") {
        const advice = scriptMembers.has(input) ? "" : ": use -o FILE";
        failures.push(failure(input, new InputError(r.soname === null ? `has no SONAME to name its stub after${advice}` : `has a SONAME (${r.soname}) that is not a file name${advice}`)));
        return null;
      }
      dest = `${options.outDir}/${r.soname}`;
    } else {
      dest = options.output!;
    }
    const other = planned.get(dest);
    if (other && !Buffer.from(other.bytes).equals(r.bytes)) {
      failures.push(failure(input, new InputError(`has the SONAME ${r.soname} of ${other.input}, with another interface: both cannot be ${dest}`)));
      return null;
    }
    if (!other && replacesInput(input, dest)) return null;
    if (!other) planned.set(dest, { input, soname: r.soname, bytes: r.bytes });
    destOf.set(input, dest);
    return dest;
  };
  for (const path of new Set(inputs)) {
    const r = outcomes.get(path)!;
    if (r.kind === "error") failures.push(r);
    else if (r.kind === "stub") plan(path);
  }
  const scriptDests = new Map<string, string>();
  const scriptOutputs: { script: (typeof scripts)[number]; text: string; dest: string; replaced: { from: string; to: string }[] }[] = [];
  for (const script of scripts) {
    const renamed = new Map<string, string>();
    let ok = true;
    for (const m of script.members) {
      if (keptAsIs(m.path) || renamed.has(m.path)) continue;
      const r = outcomes.get(m.path)!;
      if (r.kind === "error") {
        failures.push({ ...r, message: `${r.message} (named by the linker script ${script.path})` });
        ok = false;
        continue;
      }
      const dest = plan(m.path);
      if (dest === null) ok = false;
      else renamed.set(m.path, resolve(dest));
    }
    if (!ok) continue;
    const dest = `${options.outDir}/${basename(script.path)}`;
    if (planned.has(dest)) {
      failures.push(failure(script.path, new InputError(`would be written over the stub ${dest}`)));
      continue;
    }
    const text = rewriteScript(script.text, script.members, renamed);
    const other = scriptDests.get(dest);
    if (other !== undefined) {
      // Two scripts of one name: the same text is one output, different ones clash.
      if (scriptOutputs.find((o) => o.dest === dest)!.text !== text) failures.push(failure(script.path, new InputError(`has the name of the linker script ${other}, with other contents: both cannot be ${dest}`)));
      continue;
    }
    if (replacesInput(script.path, dest)) continue;
    scriptDests.set(dest, script.path);
    scriptOutputs.push({ script, text, dest, replaced: [...renamed].map(([from, to]) => ({ from, to })) });
  }

  // Write (the output directory is made when missing, as build tools expect).
  const records: StubRecord[] = [];
  if (options.outDir !== undefined && planned.size + scriptOutputs.length > 0) {
    try {
      mkdirSync(fsPath(options.outDir), { recursive: true });
    } catch (e) {
      failures.push(failure(options.outDir, new OutputError(options.outDir, e)));
      return { records, failures };
    }
  }
  const write = (dest: string, bytes: Uint8Array): boolean => {
    if (options.writeIfChanged) return writeFileIfChanged(dest, bytes, 0o644, options.durable ?? false);
    writeFileAtomic(dest, bytes, 0o644, options.durable ?? false);
    return true;
  };
  // One private directory for every output written into --out-dir.
  let release = () => {};
  if (options.outDir !== undefined) {
    try {
      release = holdWorkDir(options.outDir);
    } catch {
      // Each write below says why it cannot write there.
    }
  }
  try {
    writeAll();
  } finally {
    release();
  }
  return { records, failures };

  function writeAll(): void {
    for (const [dest, p] of planned) {
      try {
        records.push({ path: p.input, output: dest, kind: "stub", soname: p.soname, written: write(dest, p.bytes) });
      } catch (e) {
        failures.push(failure(p.input, new OutputError(dest, e)));
      }
    }
    for (const s of scriptOutputs) {
      try {
        records.push({ path: s.script.path, output: s.dest, kind: "script", soname: null, written: write(s.dest, new TextEncoder().encode(s.text)), replaced: s.replaced });
      } catch (e) {
        failures.push(failure(s.script.path, new OutputError(s.dest, e)));
      }
    }
  }
}
