import { Decoder } from "./bytes.js";
import { MalformedError } from "./errors.js";

/**
 * Symbol counts from the hash tables, for files whose section headers are gone.
 * `read(offset, length)` returns bytes at a file offset or throws TruncatedError.
 */
type Read = (offset: number, length: number) => Decoder;

/** DT_HASH: nchain equals the number of symbols. s390x and Alpha use 8-byte entries. */
export function countFromSysvHash(read: Read, offset: number, entrySize: 4 | 8): number {
  const d = read(offset, 2 * entrySize);
  const nchain = entrySize === 8 ? d.u64(entrySize) : BigInt(d.u32(4));
  if (nchain > 0xffffffn) throw new MalformedError(`DT_HASH nchain ${nchain} is implausible`, offset);
  return Number(nchain);
}

/**
 * DT_GNU_HASH: symbols below `symoffset` are not hashed; the rest form chains that end
 * with a value whose low bit is set. The count is one past the end of the last chain.
 */
export function countFromGnuHash(read: Read, offset: number, is64: boolean, fileSize: number): number {
  const h = read(offset, 16);
  const nbuckets = h.u32(0);
  const symoffset = h.u32(4);
  const bloomSize = h.u32(8);
  const word = is64 ? 8 : 4;
  const bucketsAt = offset + 16 + bloomSize * word;
  if (nbuckets * 4 > fileSize || bloomSize * word > fileSize) {
    throw new MalformedError(`DT_GNU_HASH sizes (nbuckets ${nbuckets}, bloom ${bloomSize}) exceed the file`, offset);
  }
  const buckets = read(bucketsAt, nbuckets * 4);
  let maxBucket = 0;
  for (let i = 0; i < nbuckets; i++) maxBucket = Math.max(maxBucket, buckets.u32(i * 4));
  if (maxBucket === 0) return symoffset;
  if (maxBucket < symoffset) throw new MalformedError("DT_GNU_HASH bucket points below symoffset", bucketsAt);
  const chainsAt = bucketsAt + nbuckets * 4;
  // Walk the last chain in windows; its length is bounded by the file size.
  let index = maxBucket;
  for (;;) {
    const at = chainsAt + (index - symoffset) * 4;
    if (at + 4 > fileSize) throw new MalformedError("DT_GNU_HASH chain runs past the end of the file", at);
    const n = Math.min(1024, Math.floor((fileSize - at) / 4));
    const chain = read(at, n * 4);
    for (let i = 0; i < n; i++, index++) {
      if (chain.u32(i * 4) & 1) return index + 1;
    }
  }
}
