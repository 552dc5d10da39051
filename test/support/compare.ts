import { ElfFile, ElfError, type DynamicSymbol } from "../../src/elf/index.js";
import { withFileSource } from "../../src/io/file-source.js";
import { readelf, type ReadelfView } from "./readelf.js";

/** readelf's spelling of the names abilink uses. */
const readelfType: Record<string, string[]> = { GNU_IFUNC: ["IFUNC", "<OS specific>: 10"] };
const readelfBind: Record<string, string[]> = { GNU_UNIQUE: ["UNIQUE", "<OS specific>: 10"] };

function expectedSuffix(s: DynamicSymbol): { version: string | null; sep: "@" | "@@" | null } {
  if (!s.version) return { version: null, sep: null };
  const sep = s.defined && s.version.library === null && !s.version.hidden ? "@@" : "@";
  return { version: s.version.name, sep };
}

/**
 * Compares abilink's reading of `path` with GNU readelf's and returns one line per
 * disagreement (empty when they agree).
 */
export async function compareWithReadelf(path: string): Promise<string[]> {
  let re: ReadelfView = await readelf(path);
  let mine;
  try {
    mine = withFileSource(path, (src) => {
      const elf = ElfFile.parse(src);
      const dyn = elf.dynamic;
      return {
        interpreter: elf.interpreter,
        soname: dyn?.soname ?? null,
        needed: dyn?.needed ?? [],
        rpath: dyn?.rpath ?? [],
        runpath: dyn?.runpath ?? [],
        symbols: elf.dynamicSymbols,
        verdef: elf.versionDefinitions.map((d) => ({ index: d.vd_ndx, name: d.name, parents: d.parents })),
        verneed: elf.versionRequirements.map((r) => ({
          file: r.file,
          versions: r.versions.map((a) => ({ name: a.name, index: a.vna_other })),
        })),
      };
    });
  } catch (e) {
    // Both reject: readelf reports an error on the same file (e.g. a separate debug file whose
    // PT_INTERP lies in a NOBITS region). Anything else is a disagreement.
    if (e instanceof ElfError && /Error:/.test(re.stderr)) return [];
    if (e instanceof ElfError) return [`${path}: abilink rejects it (${e.message}); readelf stderr: ${re.stderr.trim().slice(0, 200)}`];
    throw e;
  }
  const out: string[] = [];
  const eq = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${path}: ${what}: abilink ${JSON.stringify(a)} readelf ${JSON.stringify(b)}`);
  };
  eq("interpreter", mine.interpreter, re.interpreter);
  eq("soname", mine.soname, re.soname);
  eq("needed", mine.needed, re.needed);
  eq("rpath", mine.rpath, re.rpath);
  eq("runpath", mine.runpath, re.runpath);
  // readelf -V reads the version sections; a file without them prints nothing to compare.
  if (re.verdef !== null) eq("version definitions", mine.verdef, re.verdef);
  if (re.verneed !== null) eq("version requirements", mine.verneed, re.verneed);
  if (!re.hasDynsym && mine.symbols.length > 0) re = { ...re, symbols: (await readelf(path, { useDynamic: true })).symbols };
  if (mine.symbols.length !== re.symbols.length) {
    out.push(`${path}: dynamic symbol count: abilink ${mine.symbols.length} readelf ${re.symbols.length}`);
    return out;
  }
  mine.symbols.forEach((s, i) => {
    const r = re.symbols[i]!;
    const where = `${path}: dynsym[${s.index}] ${s.name}`;
    const exp = expectedSuffix(s);
    // readelf leaves off the version of a version's own definition symbol (`VERS_2.0` in ABS).
    const selfNamed = exp.version !== null && exp.version === s.name && r.version === null;
    // readelf shows a section symbol by its section's name.
    if (s.name !== r.name && !(s.type === "SECTION" && s.name === "")) out.push(`${where}: name: readelf ${r.name}`);
    if (!selfNamed && (exp.version !== r.version || exp.sep !== r.sep)) {
      out.push(`${where}: version: abilink ${exp.sep ?? ""}${exp.version ?? "(none)"} readelf ${r.sep ?? ""}${r.version ?? "(none)"}`);
    }
    if (!(readelfType[s.type] ?? [s.type]).includes(r.type)) out.push(`${where}: type: abilink ${s.type} readelf ${r.type}`);
    if (!(readelfBind[s.bind] ?? [s.bind]).includes(r.bind)) out.push(`${where}: bind: abilink ${s.bind} readelf ${r.bind}`);
    if (s.visibility !== r.vis) out.push(`${where}: visibility: abilink ${s.visibility} readelf ${r.vis}`);
    if (s.st_size !== r.size) out.push(`${where}: size: abilink ${s.st_size} readelf ${r.size}`);
    if ((s.st_shndx === 0) !== (r.ndx === "UND")) out.push(`${where}: defined: abilink ${s.defined} readelf ndx ${r.ndx}`);
  });
  return out;
}
