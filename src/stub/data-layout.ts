// Where a stub puts its data objects: one address per alias group, in a section of the
// group's kind, at an offset whose alignment is exactly the manifest's. Linkers observe an
// object's alignment as the smaller of its section's alignment and the lowest set bit of its
// offset (GNU ld's _bfd_elf_adjust_dynamic_copy; lld and mold use the address, which is the
// same when the section is aligned), so an object of alignment a below the section's sits at
// an odd multiple of a.
import { symbolId, type AbiSymbol } from "../abi/manifest.js";

/** The sections data goes in: what a linker and ld.so see of an object's memory. */
export type DataKind = "readonly" | "relro" | "writable" | "tls";

export const DATA_KINDS: readonly DataKind[] = ["readonly", "relro", "writable", "tls"];

export const kindOf = (s: AbiSymbol): DataKind =>
  s.type === "TLS" ? "tls" : !s.data!.readonly ? "writable" : s.data!.relro ? "relro" : "readonly";

/** One section's objects: offsets from the section's start, its alignment and size. */
export interface SectionData {
  align: number;
  size: number;
  /** Offset of each data symbol in the section, by symbol id (aliases share their group's). */
  offsets: Map<string, number>;
}

/**
 * Lays out the data symbols of each kind. An alias (data.alias set) shares the offset of the
 * group member it names when that member is a data symbol of the same kind; otherwise it is
 * placed as its own object. Deterministic: the order is by alignment (largest first), then
 * the manifest's canonical order.
 */
export function layoutData(symbols: readonly AbiSymbol[]): Map<DataKind, SectionData> {
  const byId = new Map(symbols.filter((s) => s.data).map((s) => [symbolId(s), s] as const));
  const leaderOf = (s: AbiSymbol): AbiSymbol => {
    const to = s.data!.alias !== undefined ? byId.get(s.data!.alias) : undefined;
    return to && to.data!.alias === undefined && kindOf(to) === kindOf(s) ? to : s;
  };
  const out = new Map<DataKind, SectionData>();
  for (const kind of DATA_KINDS) {
    const members = symbols.filter((s) => s.data && kindOf(s) === kind);
    const leaders = members.filter((s) => leaderOf(s) === s);
    if (leaders.length === 0) continue;
    const align = Math.max(1, ...leaders.map((s) => s.data!.align));
    const order = leaders.map((s, i) => ({ s, i })).sort((a, b) => b.s.data!.align - a.s.data!.align || a.i - b.i);
    // A group takes the room of its largest member (glibc's sys_siglist names grew with versions).
    const room = new Map<AbiSymbol, number>();
    for (const s of members) room.set(leaderOf(s), Math.max(room.get(leaderOf(s)) ?? 0, s.data!.size));
    const offsets = new Map<string, number>();
    let cursor = 0;
    for (const { s } of order) {
      const a = Math.max(1, s.data!.align);
      cursor = Math.ceil(cursor / a) * a;
      // Below the section's alignment, the offset's lowest set bit must be a itself.
      if (a < align && (cursor / a) % 2 === 0) cursor += a;
      offsets.set(symbolId(s), cursor);
      cursor += Math.max(1, room.get(s)!);
    }
    for (const s of members) if (leaderOf(s) !== s) offsets.set(symbolId(s), offsets.get(symbolId(leaderOf(s)))!);
    out.set(kind, { align, size: cursor, offsets });
  }
  return out;
}
