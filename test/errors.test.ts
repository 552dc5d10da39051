import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ManifestError, OutputError, PatchError, describeError, describeFailure } from "../src/errors.js";

/** The error a real system call throws. */
function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("did not throw");
}

describe("describeError", () => {
  it("says what a system error means, without its code, system call or path", () => {
    expect(describeError(thrownBy(() => readFileSync("/")))).toBe("is a directory");
    expect(describeError(thrownBy(() => readFileSync("/nonexistent/x")))).toBe("no such file or directory");
    expect(describeError(thrownBy(() => readFileSync("/etc/hostname/x")))).toBe("not a directory");
  });

  it("keeps abilink's own messages, with or without an errno code", () => {
    expect(describeError(new PatchError("not an ELF executable"))).toBe("not an ELF executable");
    expect(describeError(Object.assign(new Error("file shrank while being read"), { code: "EIO" }))).toBe("file shrank while being read");
  });
});

describe("describeFailure", () => {
  it("names the path at fault: the input, an output, a manifest's line", () => {
    const enoent = thrownBy(() => readFileSync("/nonexistent/x"));
    expect(describeFailure("lib.so", enoent)).toEqual({ subject: "lib.so", message: "no such file or directory" });
    expect(describeFailure("lib.so", new OutputError("out/x", enoent))).toEqual({ subject: "out/x", message: "no such file or directory" });
    expect(describeFailure("bad.abi", new ManifestError('unknown fact "x"', 3, "bad.abi"))).toEqual({ subject: "bad.abi:3", message: 'unknown fact "x"' });
    expect(new ManifestError('unknown fact "x"', 3).message).toBe('line 3: unknown fact "x"');
  });
});
