import { execa } from "execa";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { FileSource } from "../../src/io/file-source.js";
import { withInput } from "../../src/io/input.js";
import { systemLib } from "../support/tools.js";
import { withTmpDir } from "../support/tmp.js";

const libc = systemLib("libc.so.6");
const unbounded = () => ({ bytes: Infinity, refusal: "" });

let tmp = "";
withTmpDir((path) => (tmp = path));

/** Runs `use` on `file`'s bytes as they come through a FIFO that `cat` writes. */
async function throughFifo<T>(file: string, use: (path: string) => T): Promise<T> {
  const fifo = join(tmp, `fifo-${Math.random().toString(36).slice(2)}`);
  await execa("mkfifo", [fifo]);
  // The writer opens the FIFO itself: withInput holds this thread while it waits.
  const writer = execa("sh", ["-c", 'exec cat "$1" > "$2"', "sh", file, fifo], { reject: false });
  try {
    return use(fifo);
  } finally {
    await writer;
  }
}

describe("withInput", () => {
  it("a regular file is read where it lies; a FIFO is read whole, every range as in the file", async () => {
    const bytes = readFileSync(libc);
    expect(withInput(libc, unbounded, (s) => s instanceof FileSource)).toBe(true);
    await throughFifo(libc, (fifo) =>
      withInput(fifo, unbounded, (s) => {
        expect(s).not.toBeInstanceOf(FileSource);
        expect(s.size).toBe(bytes.length);
        const MiB = 1 << 20;
        // Within one piece, across the boundaries between pieces, the whole.
        for (const [offset, length] of [[0, 64], [MiB - 3, 7], [MiB - 1, MiB + 2], [5, 2 * MiB + 1], [MiB, bytes.length], [0, bytes.length], [bytes.length, 0]] as const) {
          expect(Buffer.from(s.read(offset, length)).equals(bytes.subarray(offset, offset + length)), `${offset}+${length}`).toBe(true);
        }
      }),
    );
  });

  it("the limit is chosen from the first bytes and refuses more with its message", async () => {
    const heads: number[][] = [];
    const limit = (head: Uint8Array) => {
      heads.push([...head]);
      return { bytes: 100_000, refusal: "too much" };
    };
    await throughFifo(libc, (fifo) => expect(() => withInput(fifo, limit, () => 0)).toThrow(new InputError("too much")));
    expect(heads).toEqual([[0x7f, 0x45, 0x4c, 0x46]]);
  });

  it("a directory and a device are refused before anything is read", () => {
    expect(() => withInput(tmp, unbounded, () => 0)).toThrow(new InputError("is a directory"));
    expect(() => withInput("/dev/zero", unbounded, () => 0)).toThrow(new InputError("not a regular file or a pipe"));
  });
});
