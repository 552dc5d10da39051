/**
 * Cross-check of `abilink diff` against libabigail's `abidiff` on the testdata/abi pairs
 * (built without -g, so abidiff sees only ELF symbol tables and the SONAME):
 *
 * - wherever abidiff reports a change (exit bit 4) abilink reports one too, and wherever
 *   abidiff says incompatible (bit 8) so does abilink;
 * - every symbol abidiff lists as removed/added, and every SONAME/architecture change it
 *   reports, is among abilink's changes;
 * - what abilink reports beyond abidiff is pinned in `beyondAbidiff` / `finerThanAbidiff`
 *   below, so that a regression on either side shows up as a diff of those tables.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { dir } from "tmp-promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffExitStatus, diffManifests, type AbiChange } from "../../src/abi/diff.js";
import { loadManifest } from "../../src/abi/load.js";
import { hasTool } from "../support/tools.js";

const abiDir = new URL("../../testdata/abi/", import.meta.url).pathname;
const cases: { case: string }[] = JSON.parse(readFileSync(join(abiDir, "cases.json"), "utf8"));

/** `name@@V` and `name@V` name the same symbol for matching. */
const id = (s: string) => s.replace("@@", "@");
const show = (c: AbiChange) => `${c.kind} ${c.subject}${c.compatible ? "" : " (incompatible)"}`;

/**
 * Cases where abilink reports a change and abidiff (without debug info) does not, or abilink
 * says incompatible and abidiff does not: abilink's exit, abidiff's exit, abilink's changes.
 * Without DWARF abidiff compares only which symbols exist (by name@version, split into
 * functions and variables) and the SONAME; it ignores every other st_* field and section.
 */
const beyondAbidiff: Record<string, { abilink: number; abidiff: number; changes: string[] }> = {
  // st_size of a data object: abidiff needs DWARF types to see a size change.
  "object-grown": { abilink: 12, abidiff: 0, changes: ["size-changed table (incompatible)"] },
  // Same, plus the observed alignment (st_value alignment), which abidiff never looks at.
  "object-grown-realigned": {
    abilink: 12,
    abidiff: 0,
    changes: ["alignment-raised table (incompatible)", "size-changed table (incompatible)"],
  },
  // Observed alignment of a data object (copy relocations): not an ELF field abidiff reads.
  "alignment-raised": { abilink: 12, abidiff: 0, changes: ["alignment-raised origin (incompatible)"] },
  "alignment-lowered": { abilink: 4, abidiff: 0, changes: ["alignment-lowered origin"] },
  // Same size and TLS symbol; only st_size grows (TLS block layout): abidiff needs DWARF.
  "tls-grown": { abilink: 12, abidiff: 0, changes: ["size-changed t (incompatible)"] },
  // STB_GLOBAL <-> STB_WEAK: abidiff does not compare symbol binding.
  "global-to-weak": { abilink: 4, abidiff: 0, changes: ["binding-changed hook"] },
  "weak-to-global": { abilink: 4, abidiff: 0, changes: ["binding-changed hook"] },
  // Losing STB_GNU_UNIQUE: binding again (abidiff also ignores the EI_OSABI flip GNU -> SYSV).
  unique: { abilink: 12, abidiff: 0, changes: ["binding-changed _ZZ7countervE1c (incompatible)"] },
  // STV_DEFAULT -> STV_PROTECTED: abidiff does not compare symbol visibility.
  "became-protected": { abilink: 12, abidiff: 0, changes: ["visibility-changed shared_counter (incompatible)"] },
  // Which section (writable or not, inside PT_GNU_RELRO or not) an object lives in: const-ness
  // is a DWARF type qualifier for abidiff, invisible without debug info.
  "ro-to-rw": { abilink: 12, abidiff: 0, changes: ["became-writable k (incompatible)"] },
  "rw-to-ro": { abilink: 4, abidiff: 0, changes: ["became-read-only k"] },
  "relro-to-rw": { abilink: 12, abidiff: 0, changes: ["became-writable names (incompatible)"] },
  // foo@@V1 -> hidden foo@V1 plus new foo@@V2 and version node V2: abidiff matches foo by name
  // (its default version) and reports neither the new default foo@@V2 nor the new version.
  "new-default-version": {
    abilink: 4,
    abidiff: 0,
    changes: ["default-version-changed foo@V1", "symbol-added foo@@V2", "version-added V2"],
  },
};

/**
 * Cases where both tools flag the pair (same exit) but abilink reports changes that abidiff's
 * output does not list: the changes abidiff leaves out.
 */
const finerThanAbidiff: Record<string, string[]> = {
  // Data alias b of a: abidiff lists b as an added variable symbol; that b now shares a's
  // address (abilink's alias-added, subject a) is not in its output.
  "alias-added": ["alias-added a"],
  // abidiff lists foo@@VERS_1 as removed but not foo@@VERS_2 as added (it pairs symbols by
  // name), and says nothing about version nodes.
  "version-moved": ["symbol-added foo@@VERS_2", "version-added VERS_2"],
  // foo@@V2 removed is abidiff's too; the hidden foo@V1 becoming default and node V2 going are not.
  "default-version-reverse": ["default-version-changed foo@V1", "version-removed V2 (incompatible)"],
};

/** What abidiff printed, parsed. `section` is "function" or "variable" (abidiff's split). */
interface AbidiffReport {
  exit: number;
  removed: { name: string; section: string }[];
  added: { name: string; section: string }[];
  changed: { name: string; section: string }[];
  counts: { removed: number; added: number; changed: number };
  soname: { old: string; new: string } | null;
  architecture: boolean;
  /** Lines the parser does not know: must stay empty, or the cross-check could miss something. */
  unknown: string[];
  text: string;
}

function parseAbidiff(text: string, exit: number): AbidiffReport {
  const r: AbidiffReport = {
    exit,
    removed: [],
    added: [],
    changed: [],
    counts: { removed: 0, added: 0, changed: 0 },
    soname: null,
    architecture: false,
    unknown: [],
    text,
  };
  let list: { name: string; section: string }[] | null = null;
  let section = "";
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let m: RegExpMatchArray | null;
    if (/^(Functions|Variables) changes summary:|^(Function|Variable) symbols changes summary:/.test(line)) {
      // e.g. "Function symbols changes summary: 1 Removed, 0 Added function symbol not referenced by debug info"
      //      "Functions changes summary: 0 Removed, 1 Changed (2 filtered out), 0 Added function"
      r.counts.removed += Number(/(\d+) Removed/.exec(line)?.[1] ?? 0);
      r.counts.added += Number(/(\d+) Added/.exec(line)?.[1] ?? 0);
      r.counts.changed += Number(/(\d+) Changed/.exec(line)?.[1] ?? 0);
      list = null;
    } else if ((m = /^\d+ (Removed|Added|Changed) (function|variable)s?( symbols?)?( not referenced by debug info)?:$/.exec(line))) {
      list = m[1] === "Removed" ? r.removed : m[1] === "Added" ? r.added : r.changed;
      section = m[2]!;
    } else if (list && (m = /^ {2}\[[DAC]\] (.*)$/.exec(line))) {
      // Without DWARF: "  [D] foo@@VERS_1"; with DWARF: "  [D] 'function void foo()'    {foo@@VERS_1}".
      const raw = m[1]!.replace(/ has some (in)?direct sub-type changes:$/, "");
      const linkage = /\{([^}]+)\}\s*$/.exec(raw);
      list.push({ name: (linkage ? linkage[1]! : raw).trim(), section });
    } else if (list === r.changed && /^ {4,}/.test(line)) {
      // detail lines under a changed (DWARF) function or variable
    } else if (line === "ELF SONAME changed") {
      list = null;
    } else if ((m = /^SONAME changed from '(.*)' to '(.*)'$/.exec(line))) {
      r.soname = { old: m[1]!, new: m[2]! };
      list = null;
    } else if (line === "ELF architecture changed" || /^architecture changed from /.test(line)) {
      r.architecture = true;
      list = null;
    } else {
      r.unknown.push(line);
    }
  }
  return r;
}

const tools = hasTool("abidiff", "abigail-tools") && hasTool("gcc", "gcc") && hasTool("g++", "g++");

let out: string;
let cleanup: () => Promise<void>;
let abidiffVersion = "";
const reports = new Map<string, AbidiffReport>();
const abilinkChanges = new Map<string, AbiChange[]>();

describe.skipIf(!tools)("abilink diff vs abidiff (no debug info) on the testdata/abi pairs", () => {
  beforeAll(async () => {
    const d = await dir({ unsafeCleanup: true });
    out = d.path;
    cleanup = d.cleanup;
    await execa("bash", [join(abiDir, "build.sh"), out]);
    abidiffVersion = (await execa("abidiff", ["--version"])).stdout.trim();
    await Promise.all(
      cases.map(async ({ case: c }) => {
        const oldSo = join(out, c, "old.so");
        const newSo = join(out, c, "new.so");
        // Suppress nothing: no default suppression files (~/.abignore, the system one), and show
        // harmless changes too. --no-show-locs only drops source locations (there are none).
        const res = await execa("abidiff", ["--no-default-suppression", "--harmless", "--no-show-locs", oldSo, newSo], {
          reject: false,
          env: { LC_ALL: "C" },
        });
        reports.set(c, parseAbidiff(res.stdout, res.exitCode ?? -1));
        abilinkChanges.set(c, diffManifests(loadManifest(oldSo).manifest, loadManifest(newSo).manifest));
      }),
    );
  }, 120_000);
  afterAll(() => cleanup?.());

  it("runs abidiff on all 23 pairs without errors, and understands all of its output", () => {
    expect(abidiffVersion).toMatch(/^abidiff: \d+\.\d+/);
    expect(reports.size).toBe(cases.length);
    expect(cases.length).toBe(23);
    for (const [c, r] of reports) {
      expect(r.exit & 3, `${c}: abidiff error/usage exit ${r.exit}\n${r.text}`).toBe(0);
      expect([0, 4, 12], c).toContain(r.exit);
      expect(r.unknown, `${c}: unparsed abidiff output\n${r.text}`).toEqual([]);
      // The parser found as many entries as abidiff's summary lines announce.
      expect([r.removed.length, r.added.length, r.changed.length], `${c}\n${r.text}`).toEqual([
        r.counts.removed,
        r.counts.added,
        r.counts.changed,
      ]);
    }
  });

  describe.each(cases)("$case", ({ case: c }) => {
    it("abilink reports at least what abidiff reports", () => {
      const r = reports.get(c)!;
      const changes = abilinkChanges.get(c)!;
      const status = diffExitStatus(changes);
      const ctx = `${c}: abidiff exit ${r.exit}, abilink exit ${status} [${changes.map(show).join(", ")}]\n${r.text}`;
      // (a) abidiff saw a change -> abilink sees one; (b) abidiff says incompatible -> so does abilink.
      if (r.exit & 4) expect(changes.length, ctx).toBeGreaterThan(0);
      if (r.exit & 8) expect(changes.filter((x) => !x.compatible).length, ctx).toBeGreaterThan(0);

      // (c) every listed symbol is among abilink's changes.
      const has = (kind: string, name: string) => changes.some((x) => x.kind === kind && id(x.subject) === id(name));
      // abidiff keeps functions and variables in separate tables, so a symbol whose st_type goes
      // OBJECT -> FUNC is to it a removed variable plus an added function; abilink reports that
      // as one (incompatible) type-changed on that symbol, which covers both entries.
      const retyped = (name: string, section: string, side: "old" | "new") =>
        changes.some(
          (x) =>
            x.kind === "type-changed" &&
            !x.compatible &&
            id(x.subject) === id(name) &&
            /FUNC/.test(String(x[side])) === (section === "function"),
        );
      for (const s of r.removed) {
        expect(has("symbol-removed", s.name) || retyped(s.name, s.section, "old"), `removed ${s.name}; ${ctx}`).toBe(true);
      }
      for (const s of r.added) {
        expect(has("symbol-added", s.name) || retyped(s.name, s.section, "new"), `added ${s.name}; ${ctx}`).toBe(true);
      }
      for (const s of r.changed) {
        expect(changes.some((x) => id(x.subject) === id(s.name)), `changed ${s.name}; ${ctx}`).toBe(true);
      }
      if (r.soname) {
        expect(
          changes.some((x) => x.kind === "soname-changed" && x.old === r.soname!.old && x.new === r.soname!.new),
          ctx,
        ).toBe(true);
      }
      if (r.architecture) expect(changes.some((x) => x.kind === "target-changed"), ctx).toBe(true);
    });
  });

  it("what abilink reports beyond abidiff is exactly the committed list", () => {
    const beyond: typeof beyondAbidiff = {};
    const finer: typeof finerThanAbidiff = {};
    for (const { case: c } of cases) {
      const r = reports.get(c)!;
      const changes = abilinkChanges.get(c)!;
      const status = diffExitStatus(changes);
      if (((status & 4) && !(r.exit & 4)) || ((status & 8) && !(r.exit & 8))) {
        beyond[c] = { abilink: status, abidiff: r.exit, changes: changes.map(show).sort() };
        continue;
      }
      // Same verdict: which of abilink's changes has abidiff's output no counterpart for?
      const unlisted = changes.filter((x) => {
        const listed = (list: { name: string }[]) => list.some((s) => id(s.name) === id(x.subject));
        if (x.kind === "symbol-removed") return !listed(r.removed);
        if (x.kind === "symbol-added") return !listed(r.added);
        if (x.kind === "type-changed") return !(listed(r.removed) && listed(r.added));
        if (x.kind === "soname-changed") return r.soname === null;
        if (x.kind === "target-changed") return !r.architecture;
        return !listed(r.changed);
      });
      if (unlisted.length > 0) finer[c] = unlisted.map(show).sort();
    }
    // `name@@V` and `name@V` are one symbol here too: only the spelling of a subject may differ.
    const norm = <T>(t: T): T => JSON.parse(JSON.stringify(t).replaceAll("@@", "@"));
    expect(norm(beyond)).toEqual(norm(beyondAbidiff));
    expect(norm(finer)).toEqual(norm(finerThanAbidiff));
  });
});
