import { DT_STRTAB, PT_INTERP, SHF_ALLOC, SHT_DYNAMIC, SHT_DYNSYM, SHT_PROGBITS, SHT_STRTAB, SHT_SYMTAB, symbolLayout } from "../../elf/index.js";
import { Encoder } from "../../elf/write/index.js";
import type { PlannedWrite } from "../model.js";
import { movedAddress, type FileView, type Placement } from "./view.js";

/**
 * Symbols defined in a moved section (section symbols, `__abi_tag` on the ABI note) move
 * with it: their st_value in .symtab and .dynsym follows, so eu-elflint and debuggers
 * agree. Read in chunks: a large .symtab is never held whole.
 */
export function symbolValueWrites(view: FileView, placement: Placement): PlannedWrite[] {
  const secs = view.sections;
  if (!secs) return [];
  const { blocks } = placement;
  // Old and new address of every section that moves.
  const moves = new Map<number, { from: bigint; to: bigint }>();
  for (const b of blocks) for (const i of b.sections) moves.set(i, { from: secs[i]!.sh_addr, to: movedAddress(blocks, secs[i]!.sh_addr) });
  const dynstrAddr = view.elf.dynamicValue(DT_STRTAB);
  const interpPh = view.phdrs.find((ph) => ph.p_type === PT_INTERP);
  const dynamicAt = placement.kind === "new-segment" ? placement.dynamic : null;
  secs.forEach((sec, i) => {
    if ((sec.sh_flags & BigInt(SHF_ALLOC)) === 0n) return;
    if (placement.dynstr && sec.sh_type === SHT_STRTAB && sec.sh_addr === dynstrAddr) moves.set(i, { from: sec.sh_addr, to: placement.dynstr.vaddr });
    if (dynamicAt && sec.sh_type === SHT_DYNAMIC) moves.set(i, { from: sec.sh_addr, to: dynamicAt.vaddr });
    if (placement.interp && interpPh && sec.sh_type === SHT_PROGBITS && sec.sh_offset === interpPh.p_offset) moves.set(i, { from: sec.sh_addr, to: placement.interp.vaddr });
  });
  for (const [i, m] of moves) if (m.from === m.to) moves.delete(i);
  if (moves.size === 0) return [];
  const { is64, little, oldSize } = view;
  const layout = symbolLayout(is64);
  const entsize = layout.size;
  const { st_shndx: shndxAt, st_value: valueAt } = layout.offset;
  const CHUNK = 4096 * entsize;
  const writes: PlannedWrite[] = [];
  for (const sec of secs) {
    if (sec.sh_type !== SHT_SYMTAB && sec.sh_type !== SHT_DYNSYM) continue;
    if (sec.sh_entsize !== BigInt(entsize)) continue;
    const start = Number(sec.sh_offset);
    const size = Number(sec.sh_size) - (Number(sec.sh_size) % entsize);
    if (start + size > oldSize) continue;
    for (let at = 0; at < size; at += CHUNK) {
      const len = Math.min(CHUNK, size - at);
      const d = view.elf.readAt(start + at, len, "symbol table");
      for (let o = 0; o < len; o += entsize) {
        const move = moves.get(d.u16(o + shndxAt));
        if (!move) continue;
        const value = d.word(o + valueAt, is64);
        const b = new Uint8Array(is64 ? 8 : 4);
        new Encoder(b, little).word(0, value - move.from + move.to, is64);
        writes.push({ offset: start + at + o + valueAt, bytes: b, what: `${sec.name || "symbol table"} value` });
      }
    }
  }
  return writes;
}
