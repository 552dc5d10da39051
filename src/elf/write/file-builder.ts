import { alignUp, alignUpBig, SpaceAllocator, type Place } from "./allocator.js";

/** A piece of the file reserved by `FileBuilder.reserve`, to be written exactly once. */
export interface Reservation extends Place {
  readonly name: string;
  readonly size: number;
}

/**
 * Builds a file from scratch in two phases, as gimli's object writer does: first every
 * piece is reserved (size and alignment; offsets and addresses follow), so that headers
 * that point at later pieces can be encoded, then each piece is written once. Pieces are
 * laid out in the order they are reserved; gaps stay zero. `segment` starts a new loadable
 * stretch: its first address is congruent to its file offset modulo the page size, as
 * PT_LOAD requires.
 */
export class FileBuilder {
  private readonly pieces: { r: Reservation; bytes: Uint8Array | null }[] = [];
  private space: SpaceAllocator;
  private end = 0;
  private image: Uint8Array | null = null;

  constructor() {
    this.space = new SpaceAllocator(0, 0n);
  }

  /**
   * Starts a segment at the next offset that is `offsetAlign`-aligned, mapped on the first
   * page at or above `minVaddr` (never a page an earlier segment maps, so each page has one
   * set of permissions), at the offset's remainder modulo `page`.
   */
  segment(minVaddr: bigint, page: bigint, offsetAlign = 1): Place {
    const offset = alignUp(this.end, offsetAlign);
    const vaddr = alignUpBig(minVaddr, page) + (BigInt(offset) % page);
    this.space = new SpaceAllocator(offset, vaddr);
    this.end = Math.max(this.end, offset);
    return { offset, vaddr };
  }

  /** Reserves `size` bytes aligned to `align` (in the file and in memory) after the previous piece. */
  reserve(name: string, size: number, align = 1): Reservation {
    if (this.image) throw new Error(`FileBuilder: ${name} reserved after finish`);
    const place = this.space.place(size, align);
    const r: Reservation = { name, size, ...place };
    this.pieces.push({ r, bytes: null });
    this.end = Math.max(this.end, place.offset + size);
    return r;
  }

  /** Writes a reserved piece: exactly its size, exactly once. */
  write(r: Reservation, bytes: Uint8Array): void {
    const piece = this.pieces.find((p) => p.r === r);
    if (!piece) throw new Error(`FileBuilder: ${r.name} was not reserved here`);
    if (piece.bytes) throw new Error(`FileBuilder: ${r.name} written twice`);
    if (bytes.length !== r.size) throw new Error(`FileBuilder: ${r.name} is ${bytes.length} bytes, ${r.size} reserved`);
    piece.bytes = bytes;
  }

  /** The size the file will have. */
  get size(): number {
    return this.end;
  }

  /** The file's bytes; every reserved piece must have been written. */
  finish(): Uint8Array {
    if (this.image) return this.image;
    const out = new Uint8Array(this.end);
    for (const { r, bytes } of this.pieces) {
      if (!bytes) throw new Error(`FileBuilder: ${r.name} was reserved but never written`);
      out.set(bytes, r.offset);
    }
    this.image = out;
    return out;
  }
}
