/** Rounds `n` up to a multiple of `a`. */
export const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
export const alignUpBig = (n: bigint, a: bigint): bigint => ((n + a - 1n) / a) * a;

/** Where one piece went: its file offset and its address in memory. */
export interface Place {
  offset: number;
  vaddr: bigint;
}

/**
 * Hands out space in a stretch of file that is mapped at a fixed distance from its
 * addresses (one segment's worth): each piece after the previous one, aligned, so that
 * file offset and address advance together.
 */
export class SpaceAllocator {
  private cursor: number;

  /** `offset` in the file is mapped at `vaddr`. */
  constructor(
    readonly start: number,
    readonly vaddr: bigint,
  ) {
    this.cursor = start;
  }

  /**
   * The next `size` bytes whose offset is `rem` modulo `align` (a moved table keeps its
   * old offset's remainder, so the contents keep their alignment).
   */
  place(size: number, align: number, rem = 0): Place {
    this.cursor = alignUp(this.cursor - rem, align) + rem;
    const at = this.cursor;
    this.cursor += size;
    return { offset: at, vaddr: this.vaddr + BigInt(at - this.start) };
  }

  /** The first offset after everything placed. */
  get end(): number {
    return this.cursor;
  }
}
