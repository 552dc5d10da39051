import type { ElfInspection, ElfSummary } from "../inspect/summary.js";
import type { ScanRecord } from "../inspect/inspect.js";
import { escapeText as t } from "../io/paths.js";

const list = (xs: readonly string[]): string => (xs.length > 0 ? xs.map(t).join(" ") : "-");

function describeKind(s: ElfSummary): string {
  const pie = s.flags1.includes("PIE") ? " (PIE)" : "";
  return `ELF${s.class} ${s.endian}-endian ${s.machine} ${s.type}${pie}, OS/ABI ${s.osabi}, e_flags 0x${s.e_flags.toString(16)}`;
}

/** The human-readable `inspect` report of one file. */
export function renderInspection(r: ElfInspection): string {
  const lines: string[] = [`${t(r.path)}:`, `  ${describeKind(r)}`];
  const field = (name: string, value: string) => lines.push(`  ${name.padEnd(13)}${value}`);
  field("interpreter", r.interpreter !== null ? t(r.interpreter) : "-");
  field("soname", r.soname !== null ? t(r.soname) : "-");
  field("needed", list(r.needed));
  field("rpath", list(r.rpath));
  field("runpath", list(r.runpath));
  field("flags", list(r.flags));
  field("flags_1", list(r.flags1));
  for (const w of r.warnings) field("warning", t(w));
  if (r.versions.defined.length > 0) {
    field(
      "versions",
      r.versions.defined
        .map((v) => (v.base ? `${t(v.name)} (base)` : v.parents.length > 0 ? `${t(v.name)} (<- ${v.parents.map(t).join(", ")})` : t(v.name)))
        .join(", "),
    );
  }
  for (const req of r.versions.required) field("requires", `${t(req.library)}: ${req.versions.map(t).join(" ")}`);
  lines.push(`  defined symbols (${r.defined.length}):`);
  for (const s of r.defined) {
    const v = s.version === null ? "" : `${s.default ? "@@" : "@"}${t(s.version)}`;
    lines.push(`    ${s.type.padEnd(9)} ${s.bind.padEnd(10)} ${s.visibility.padEnd(9)} ${String(s.size).padStart(6)}  ${t(s.name)}${v}`);
  }
  lines.push(`  undefined symbols (${r.undefined.length}):`);
  for (const s of r.undefined) {
    const v = s.version === null ? "" : `@${t(s.version)}`;
    const from = s.library ? ` (${t(s.library)})` : "";
    lines.push(`    ${s.type.padEnd(9)} ${(s.weak ? "WEAK" : "GLOBAL").padEnd(10)} ${t(s.name)}${v}${from}`);
  }
  return lines.join("\n") + "\n";
}

/** One line per file for `scan` without --json. */
export function renderScanRecord(r: ScanRecord): string {
  const parts = [t(r.path), `ELF${r.class}`, r.endian === "little" ? "LE" : "BE", String(r.machine), r.type, `size=${r.size}`];
  if (r.interpreter) parts.push(`interp=${t(r.interpreter)}`);
  if (r.soname) parts.push(`soname=${t(r.soname)}`);
  if (r.needed.length > 0) parts.push(`needed=${r.needed.map(t).join(",")}`);
  if (r.rpath.length > 0) parts.push(`rpath=${r.rpath.map(t).join(":")}`);
  if (r.runpath.length > 0) parts.push(`runpath=${r.runpath.map(t).join(":")}`);
  return parts.join(" ") + "\n";
}
