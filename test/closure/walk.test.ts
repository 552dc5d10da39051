import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { excludeMatcher, walkFiles } from "../../src/closure/walk.js";

describe("excludeMatcher", () => {
  it("matches a glob without a slash against the base name, one with a slash against the whole path", () => {
    const m = excludeMatcher(["*.debug", "share", "/usr/lib/x86_64-linux-gnu/*.a"])!;
    expect(m("/usr/lib/debug/libc.so.6.debug")).toBe(true);
    expect(m("/usr/share")).toBe(true);
    expect(m("share")).toBe(true);
    expect(m("/usr/share/doc")).toBe(false);
    expect(m("/usr/lib/x86_64-linux-gnu/libc.a")).toBe(true);
    // `*` does not cross a slash, and a path glob is not a suffix.
    expect(m("/usr/lib/x86_64-linux-gnu/sub/libc.a")).toBe(false);
    expect(excludeMatcher(["lib/x86_64-linux-gnu/*.a"])!("/usr/lib/x86_64-linux-gnu/libc.a")).toBe(false);
    expect(excludeMatcher(["**/x86_64-linux-gnu/**"])!("/usr/lib/x86_64-linux-gnu/sub/libc.a")).toBe(true);
  });

  it("matches dot files with *, and takes a leading ! literally", () => {
    expect(excludeMatcher(["*"])!("/usr/lib/.build-id")).toBe(true);
    const bang = excludeMatcher(["!keep"])!;
    expect(bang("/x/other")).toBe(false);
    expect(bang("/x/!keep")).toBe(true);
  });

  it("is null without globs, and refuses globs that can never match", () => {
    expect(excludeMatcher([])).toBeNull();
    for (const g of ["", "usr/lib/", "*".repeat(70_000)]) expect(() => excludeMatcher([g])).toThrow(UsageError);
  });
});

describe("walkFiles", () => {
  it("leaves out what `exclude` matches, below the roots and the roots themselves", () => {
    const all = [...walkFiles(["/usr/lib/x86_64-linux-gnu"])];
    const some = [...walkFiles(["/usr/lib/x86_64-linux-gnu", "/usr/bin"], { exclude: ["*.so*", "/usr/bin"] })];
    expect(some.length).toBeGreaterThan(0);
    expect(some).toEqual(all.filter((p) => !/\.so[^/]*$/.test(p) && !/\/[^/]*\.so[^/]*\//.test(p)));
  });
});
