import { ElfFile, type ByteSource } from "../../src/elf/index.js";
import { inspectElf } from "../../src/inspect/summary.js";

/** Touches every table the reader exposes, the way inspect and later commands do. */
export function readEverything(source: ByteSource): void {
  const elf = ElfFile.parse(source);
  void elf.programHeaders;
  try {
    void elf.sectionHeaders;
  } finally {
    void elf.sectionsIfUsable();
    void elf.interpreter;
    void elf.dynamic;
    inspectElf(elf, "mutant");
  }
}

/** A source that counts what it hands out, to check the reader's reads stay bounded. */
export class CountingSource implements ByteSource {
  bytesRead = 0;
  reads = 0;
  constructor(private readonly inner: ByteSource) {}
  get size(): number {
    return this.inner.size;
  }
  read(offset: number, length: number): Uint8Array {
    this.reads++;
    this.bytesRead += length;
    return this.inner.read(offset, length);
  }
}
