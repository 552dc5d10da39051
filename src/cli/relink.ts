import { InvalidArgumentError, type Command } from "commander";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { patchFiles } from "../closure/patch-files.js";
import { planRelink, relinkEdits, resolveTables, type RelinkPlan, type Replacement } from "../closure/relink.js";
import { replacePrefix } from "../patch/edits.js";
import { applyReferences, planReferences, type ReferencePlan } from "../closure/relink-refs.js";
import { RelinkOutError, relinkOut, type RelinkOutResult } from "../closure/relink-out.js";
import { escapeText as t, realPath } from "../io/paths.js";
import { EXIT_INPUT_ERROR, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { parseJobs } from "./options.js";
import { jsonLine, out, plural, warn, warnError } from "./output.js";
import { Progress } from "./progress.js";
import { interruptible } from "./signals.js";

/** The ABI check refused the relink: nothing was written (diff's and compat's "incompatible"). */
export const EXIT_ABI_REFUSED = 12;

export interface RelinkFlags {
  replace?: Replacement[];
  inPlace?: boolean;
  dryRun?: boolean;
  out?: string;
  json?: boolean;
  abiCheck?: boolean;
  force?: boolean;
  jobs?: number;
  strict?: boolean;
  verbose?: boolean;
}

function replacement(value: string, previous: Replacement[] = []): Replacement[] {
  const eq = value.indexOf("=");
  if (eq <= 0 || eq === value.length - 1) throw new InvalidArgumentError("expected OLD=NEW, two non-empty paths");
  const from = value.slice(0, eq).replace(/\/+$/, "");
  const to = value.slice(eq + 1).replace(/\/+$/, "");
  if (!from.startsWith("/") || !to.startsWith("/")) throw new InvalidArgumentError("OLD and NEW must be absolute paths");
  return [...previous, { from, to }];
}

/**
 * Why a set of replacements is ambiguous, or null. Each path is rewritten by the first OLD
 * it starts with, once; an OLD under another OLD, a NEW under any OLD, or an OLD under
 * another's NEW would be read one way by the rewrite (whose edits apply one after another)
 * and another by the check or a rerun (it would move again), so all three are refused.
 */
export function replacementConflict(rs: readonly Replacement[]): string | null {
  for (const a of rs) {
    if (a.from === a.to) return `--replace ${a.from}=${a.to} changes nothing`;
    if (a.to.includes(":")) return `--replace ${a.from}=${a.to}: NEW cannot contain ":" (it would split a run path)`;
    for (const b of rs) {
      if (a !== b && replacePrefix(a.from, b.from, b.to) !== null) return `--replace ${a.from}=… lies under --replace ${b.from}=…: give one of them`;
      if (replacePrefix(a.to, b.from, b.to) !== null) return `--replace …=${a.to}: NEW lies under ${b.from}, which is replaced too (a rerun would move it again)`;
      if (a !== b && replacePrefix(b.from, a.to, a.to) !== null) return `--replace ${b.from}=…: OLD lies under ${a.to}, the NEW of another --replace (a path moved there would move again)`;
    }
  }
  return null;
}

/** `abilink relink ROOT... --replace OLD=NEW... (--in-place | --dry-run | --out DIR)`. */
export async function runRelink(roots: string[], flags: RelinkFlags): Promise<number> {
  const given = flags.replace ?? [];
  if (given.length === 0) {
    warn("relink", "give at least one --replace OLD=NEW");
    return EXIT_USAGE;
  }
  const conflict = replacementConflict(given);
  if (conflict) {
    warn("relink", conflict);
    return EXIT_USAGE;
  }
  // A NEW that is an indirection table (abilink table) takes each file's references into its class/machine directory.
  let replacements: Replacement[];
  try {
    replacements = resolveTables(given);
  } catch (e) {
    warnError("relink", e);
    return EXIT_INPUT_ERROR;
  }
  if (flags.out !== undefined) return runRelinkOut(roots, flags.out, replacements, flags);
  if (flags.inPlace === flags.dryRun) {
    warn("relink", "give --in-place (rewrite the roots where they are) or --dry-run (print the plan)");
    return EXIT_USAGE;
  }
  const started = Date.now();
  const progress = new Progress();
  const plan = await planRelink(roots, replacements, {
    abiCheck: flags.abiCheck !== false,
    jobs: flags.jobs ?? availableParallelism(),
    onProgress: (phase, done, total) => progress.update(phase === "read" ? "reading" : "ABI check", done, total),
  });
  // References outside the dynamic fields (relink-refs.ts), planned before anything is written.
  let scanned = 0;
  const refs = planReferences(roots, replacements, {
    leaveAlone: new Set(plan.files.filter((f) => f.kind === "needs-rebuild").map((f) => f.path)),
    onFile: () => progress.update("references", ++scanned, null),
  });
  progress.stop();
  let refsRewritten = 0;
  const refused = plan.failures.length > 0;
  const strictRefused = !refused && flags.strict === true && refs.remaining.length > 0;
  const rewrite = plan.files.filter((f) => f.kind === "rewrite").map((f) => f.path);
  let written = 0;
  let grown = 0;
  let failed = plan.files.filter((f) => f.kind === "error").length;
  // Each write must find the file the plan and the check saw, under the roots.
  const within = roots.map((r) => {
    try {
      return realPath(r);
    } catch {
      return r;
    }
  });
  const expected = Object.fromEntries(plan.files.flatMap((f) => (f.kind === "rewrite" ? [[f.path, f.identity]] : [])));
  if (!refused && !strictRefused && flags.inPlace && rewrite.length > 0) {
    const edits = relinkEdits(replacements);
    await interruptible(async (abort) =>
      patchFiles(rewrite, edits, { policy: { force: flags.force, expected, within } }, {
        jobs: flags.jobs ?? availableParallelism(),
        abort,
        onOutcome: (o, total) => {
          progress.stop();
          if (o.kind === "error") {
            failed++;
            warn(o.path, o.message);
          } else {
            written++;
            grown += o.report.growth;
          }
          progress.update("rewriting", written + failed, total);
        },
      }),
    );
    progress.stop();
  }
  // Same-length references: a second atomic step after the dynamic fields (see relink-refs.ts).
  if (!refused && !strictRefused && flags.inPlace && refs.rewrite.length > 0) {
    // Synchronous: a signal is handled once it returns (every file is replaced atomically).
    await interruptible(async () => {
      const done = applyReferences(refs, replacements, { force: flags.force, within });
      refsRewritten = done.rewritten;
      for (const e of done.errors) {
        failed++;
        warn(e.path, e.message);
      }
      return 0;
    });
  }
  const seconds = (Date.now() - started) / 1000;
  if (flags.json) out(jsonLine({ ...plan, written, grown, seconds, references: referencesJson(refs, refsRewritten) }));
  else out(report(plan, flags, { written, grown, seconds }, strictRefused) + referencesReport(refs, flags, refsRewritten, strictRefused || refused));
  for (const f of plan.files) if (f.kind === "error") warn(f.path, f.message);
  for (const e of refs.errors) if (!plan.files.some((f) => f.kind === "error" && f.path === e.path)) warn(e.path, e.message);
  if (refused) return EXIT_ABI_REFUSED;
  if (strictRefused) return EXIT_INPUT_ERROR;
  failed += refs.errors.filter((e) => !plan.files.some((f) => f.kind === "error" && f.path === e.path)).length;
  return failed > 0 ? EXIT_INPUT_ERROR : EXIT_OK;
}

/**
 * `relink ROOT --out DIR`: the root as a new tree at DIR (relink-out.ts); with --dry-run,
 * the plan. Exit 1 when the tree cannot be copied (DIR exists, a special file, a file that
 * cannot be read), with one line and no DIR.
 */
async function runRelinkOut(roots: string[], dir: string, replacements: Replacement[], flags: RelinkFlags): Promise<number> {
  if (flags.inPlace) {
    warn("relink", "--out writes a new tree, --in-place rewrites the root: give one of them");
    return EXIT_USAGE;
  }
  if (roots.length !== 1) {
    warn("relink", `--out takes exactly one root (${roots.length} given)`);
    return EXIT_USAGE;
  }
  const root = roots[0]!;
  // --strict: references that cannot be rewritten refuse the run before anything is written.
  if (flags.strict && !flags.dryRun) {
    const pre = planReferences([root], [...replacements, { from: resolve(root), to: resolve(dir) }]);
    if (pre.remaining.length > 0) {
      for (const x of pre.remaining.slice(0, LIST_CAP)) out(`remaining reference: ${t(x.file)} at ${x.offset}: ${t(x.old)}\n`);
      out(`references outside the dynamic fields: ${pre.remaining.length} remaining; refused by --strict, nothing written\n`);
      return EXIT_INPUT_ERROR;
    }
  }
  const started = Date.now();
  const progress = new Progress();
  let result: RelinkOutResult | null = null;
  const code = await interruptible(async (abort) => {
    try {
      result = await relinkOut(root, dir, replacements, {
        abiCheck: flags.abiCheck !== false,
        dryRun: flags.dryRun === true,
        jobs: flags.jobs ?? availableParallelism(),
        abort,
        onProgress: (phase, done, total) => progress.update(phase === "read" ? "reading" : "ABI check", done, total),
        onWrite: (done, total) => progress.update("writing", done, total),
      });
      return EXIT_OK;
    } catch (e) {
      progress.stop();
      if (e instanceof RelinkOutError) warn(e.path, e.message);
      else warnError(root, e);
      return EXIT_INPUT_ERROR;
    }
  });
  progress.stop();
  const r = result as RelinkOutResult | null;
  if (r === null) return code;
  if (flags.json) out(jsonLine({ ...r.plan, unchecked: r.plan.unchecked ?? [], out: dir, replacements: r.replacements, summary: r.summary, references: r.references, written: r.written ? r.summary.rewritten + r.summary.copied : 0 }));
  else {
    out(report(r.plan, flags, { written: 0, grown: r.summary.bytesGrown, seconds: (Date.now() - started) / 1000 }, false, r));
    const refs = r.references;
    for (const x of refs.remaining.slice(0, LIST_CAP)) out(`remaining reference: ${t(x.path)} at ${x.offset} (in DIR's copy): ${t(x.old)} (NEW has another length)\n`);
    if (refs.remaining.length > LIST_CAP) out(`  and ${refs.remaining.length - LIST_CAP} more\n`);
    if (refs.rewritten + refs.remaining.length > 0) out(`references outside the dynamic fields: ${refs.rewritten} rewritten, ${refs.remaining.length} remaining\n`);
  }
  if (r.plan.failures.length > 0) return EXIT_ABI_REFUSED;
  return code;
}

function report(plan: RelinkPlan, flags: RelinkFlags, done: { written: number; grown: number; seconds: number }, strictRefused = false, outResult?: RelinkOutResult): string {
  const { written } = done;
  const lines: string[] = [];
  const count = (k: string) => plan.files.filter((f) => f.kind === k).length;
  if (flags.dryRun) {
    for (const f of plan.files) if (f.kind === "rewrite") lines.push(`${t(f.path)}:`, ...f.changes.map((c) => `  ${c}`));
  }
  for (const f of plan.files) if (f.kind === "needs-rebuild") lines.push(`needs rebuild: ${t(f.path)}: ${f.why}`);
  // What the check cannot see: listed, never refused (the first few; -v and --json give all).
  const cap = flags.verbose ? Infinity : UNCHECKED_CAP;
  const unchecked = plan.unchecked ?? [];
  for (const u of unchecked.slice(0, cap)) lines.push(`unchecked: ${t(u.path)}: ${u.why}`);
  if (unchecked.length > cap) lines.push(`  and ${unchecked.length - cap} more (${unchecked.length} unchecked; -v lists them all)`);
  for (const fail of plan.failures) {
    lines.push(`ABI check refuses ${t(fail.path)}:`);
    for (const p of fail.problems) lines.push(`  ${p.kind} ${p.subject}: ${p.detail}${p.object !== fail.path ? ` (in ${p.object})` : ""}`);
  }
  const abi = flags.abiCheck === false ? "ABI check skipped" : `ABI check: ${plural(plan.checked, "file")} checked, ${plan.failures.length} refused`;
  if (outResult) {
    const s = outResult.summary;
    const dry = flags.dryRun === true;
    const did =
      plan.failures.length > 0 ? "nothing written" : dry ? "nothing written (--dry-run)" : outResult.interrupted ? "interrupted: nothing written" : `written to ${t(flags.out ?? "")}`;
    lines.push(
      `${plural(s.scanned, "file")} scanned: ${s.rewritten} ${dry ? "to rewrite" : "rewritten"}, ${s.copied} ${dry ? "to copy" : "copied"} unchanged, ` +
        `${plural(s.linked, "hard link")}; ${`${s.directories} ${s.directories === 1 ? "directory" : "directories"}`}, ${plural(s.symlinks, "symbolic link")} (${s.symlinksRetargeted} retargeted); ` +
        `${plural(s.bytesGrown, "byte")} grown; ${abi}; ${did}; ${done.seconds.toFixed(1)} s`,
    );
    return lines.join("\n") + "\n";
  }
  const did =
    plan.failures.length > 0 || strictRefused ? "nothing written" : flags.dryRun ? "nothing written (--dry-run)" : `${plural(written, "file")} rewritten (${plural(done.grown, "byte")} grown)`;
  lines.push(`${plural(plan.files.length, "ELF file")}: ${count("rewrite")} to rewrite, ${count("unchanged")} unchanged, ${count("needs-rebuild")} to rebuild; ${abi}; ${did}; ${done.seconds.toFixed(1)} s`);
  return lines.join("\n") + "\n";
}

/** How many unchecked files the text report lists without -v. */
const UNCHECKED_CAP = 10;

/** How many remaining references the text report lists before "and N more". */
const LIST_CAP = 50;

function referencesJson(refs: ReferencePlan, rewritten: number) {
  return {
    rewritten,
    toRewrite: refs.rewrite.length,
    remaining: refs.remaining.map((r) => ({ path: r.file, offset: r.offset, old: r.old, kind: r.kind })),
  };
}

function referencesReport(refs: ReferencePlan, flags: RelinkFlags, rewritten: number, nothingWritten: boolean): string {
  if (refs.rewrite.length === 0 && refs.remaining.length === 0) return "";
  const lines: string[] = [];
  const where = (r: ReferencePlan["remaining"][number]) => (r.kind === "symlink" ? `${t(r.file)} (symbolic link target)` : `${t(r.file)} at ${r.offset}`);
  if (flags.dryRun) {
    for (const r of refs.rewrite.slice(0, LIST_CAP)) lines.push(`reference to rewrite: ${where(r)}: ${t(r.old)} -> ${t(r.new)}`);
    if (refs.rewrite.length > LIST_CAP) lines.push(`  and ${refs.rewrite.length - LIST_CAP} more`);
  }
  for (const r of refs.remaining.slice(0, LIST_CAP)) lines.push(`remaining reference: ${where(r)}: ${t(r.old)}${r.sameLength ? " (in a program to rebuild)" : " (NEW has another length)"}`);
  if (refs.remaining.length > LIST_CAP) lines.push(`  and ${refs.remaining.length - LIST_CAP} more`);
  const did = flags.dryRun || nothingWritten ? `${refs.rewrite.length} to rewrite` : `${rewritten} rewritten`;
  const strict = flags.strict && refs.remaining.length > 0 ? "; refused by --strict, nothing written" : "";
  lines.push(`references outside the dynamic fields: ${did}, ${refs.remaining.length} remaining${strict}`);
  return lines.join("\n") + "\n";
}

export function registerRelink(program: Command, setExit: (code: number) => void): void {
  program
    .command("relink")
    .summary("move a closure onto new library builds, after an ABI check (in place, or as a new tree with --out)")
    .description(
      "For every ELF file under the ROOTs, rewrite the interpreter, RPATH/RUNPATH entries and NEEDED paths that " +
        "start with an OLD prefix (whole path components) to NEW; nothing else changes. Before anything is written, " +
        "every dynamic ELF file is checked as ld.so will load it with the NEW libraries in place (compat's engine): " +
        "every import and version resolvable, copied objects not grown or more aligned, glibc from one build. " +
        "A failure refuses the whole run (exit 12) and writes nothing. Static programs are listed as needing a rebuild; " +
        "files that call dlopen, and libraries nothing under the roots needs, as unchecked (never refused).",
    )
    .argument("<root...>", "directories (store paths) or files to relink")
    .requiredOption("--replace <OLD=NEW>", "a library build directory or path prefix and its replacement (repeatable)", replacement)
    .option("--in-place", "rewrite the files where they are, each atomically (refused in the Nix store without --force)")
    .option("--dry-run", "print the plan and the ABI check; write nothing")
    .option("--out <dir>", "write the root (exactly one) relinked as a new tree at DIR, which must not exist; its references to itself move to DIR")
    .option("--no-abi-check", "skip the ABI check (not recommended)")
    .option("--force", "rewrite files inside the Nix store")
    .option("--strict", "fail (exit 1, nothing written) when a reference to OLD outside the dynamic fields cannot be rewritten")
    .option("--json", "the plan, the ABI check and what was written, as one JSON document")
    .option("-v, --verbose", `list every unchecked file (without it, the first ${UNCHECKED_CAP})`)
    .option("-j, --jobs <n>", `threads at work (default: ${availableParallelism()})`, parseJobs)
    .addHelpText(
      "after",
      `
Examples:
  abilink relink --dry-run /nix/store/...-hello --replace /nix/store/...-glibc-2.40-36=/nix/store/...-glibc-2.40-37
  abilink relink --in-place ./opt/app --replace /opt/openssl-3.0.13=/opt/openssl-3.0.15
  abilink relink /nix/store/...-hello --out /nix/store/...-hello-relinked --replace /nix/store/...-glibc-2.40-36=/nix/store/...-glibc-2.40-37
  abilink relink --in-place ./app --replace /opt/zlib-1.3=/opt/tables/t1     # into an indirection table
  abilink relink --in-place ./app --replace /opt/tables/t1=/opt/tables/t2    # from one table to the next

NEW may be an indirection table (abilink table): references under OLD then move into the
table's directory for each file's class/machine (run-path entries to the directory, the
interpreter and NEEDED paths to its entry for their file name).

References to OLD elsewhere (strings in any file under the roots, symbolic link targets)
are rewritten where NEW has the same length; the others are listed with file and offset
(also in --out's copies; --strict refuses first).

--out DIR writes the root (one directory) as a new tree at DIR, which must not exist: built
beside it (NAME.abilink-XXXXXXXX) and renamed whole, so DIR is complete or absent. References
to the root itself move to DIR; files that do not change are copied (reflink or
copy_file_range); links, modes, owners and hard links are kept. FIFOs, devices and sockets
are refused.

Exit status: 0 done; 12 refused by the ABI check (nothing written); 1 some file could not be
read or rewritten (the others are done; run again to finish), --strict and references remain
(nothing written), or the --out tree could not be written (no DIR); 2 usage error.`,
    )
    .action(async (roots: string[], flags: RelinkFlags) => setExit(await runRelink(roots, flags)));
}
