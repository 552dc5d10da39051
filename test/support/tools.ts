import { existsSync } from "node:fs";
import { execaSync } from "execa";

/**
 * True when `tool` runs. Tests that need it use `describe.skipIf(!hasTool(...))`; the
 * message says what to install. Under CI a skip fails the run (scripts/test.mjs).
 */
export function hasTool(tool: string, debianPackage: string): boolean {
  try {
    execaSync(tool, ["--version"], { stdin: "ignore" });
    return true;
  } catch {
    console.warn(`skipping tests that need ${tool}: install it with \`apt-get install ${debianPackage}\``);
    return false;
  }
}

/** True when every path exists (files a Debian package provides); otherwise warns, naming the package. */
export function hasFiles(paths: readonly string[], debianPackage: string): boolean {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length === 0) return true;
  console.warn(`skipping tests that need ${missing.join(", ")}: install it with \`apt-get install ${debianPackage}\``);
  return false;
}

/** The x86_64 system libraries the tests read, with the Debian package of each (.ci/run installs them). */
export const SYSTEM_LIBS: Readonly<Record<string, string>> = {
  "libc.so.6": "libc6",
  "libm.so.6": "libc6",
  "libstdc++.so.6": "libstdc++6",
  "libgcc_s.so.1": "libgcc-s1",
  "libz.so.1": "zlib1g",
  "libelf.so.1": "libelf1",
  "libcrypto.so.3": "libssl3",
};

/** `/usr/lib/x86_64-linux-gnu/NAME` for a library of SYSTEM_LIBS. */
export const systemLib = (name: keyof typeof SYSTEM_LIBS & string): string => `/usr/lib/x86_64-linux-gnu/${name}`;

/** True when every named system library exists; otherwise warns, naming their packages. */
export function hasSystemLibs(names: readonly string[]): boolean {
  return names.every((n) => {
    const pkg = SYSTEM_LIBS[n];
    if (pkg === undefined) throw new Error(`${n} is not in SYSTEM_LIBS (test/support/tools.ts)`);
    return hasFiles([systemLib(n)], pkg);
  });
}

/** The cross sysroots the qemu-user tests run programs with: Debian's libc6-*-cross packages. */
export const CROSS_SYSROOTS: Readonly<Record<string, { qemu: string; triplet: string; pkg: string }>> = {
  i386: { qemu: "qemu-i386-static", triplet: "i686-linux-gnu", pkg: "libc6-i386-cross" },
  aarch64: { qemu: "qemu-aarch64-static", triplet: "aarch64-linux-gnu", pkg: "libc6-arm64-cross" },
  armhf: { qemu: "qemu-arm-static", triplet: "arm-linux-gnueabihf", pkg: "libc6-armhf-cross" },
  riscv64: { qemu: "qemu-riscv64-static", triplet: "riscv64-linux-gnu", pkg: "libc6-riscv64-cross" },
  ppc64: { qemu: "qemu-ppc64-static", triplet: "powerpc64-linux-gnu", pkg: "libc6-ppc64-cross" },
  s390x: { qemu: "qemu-s390x-static", triplet: "s390x-linux-gnu", pkg: "libc6-s390x-cross" },
};

/** True when qemu-user and every cross sysroot are here; otherwise warns, naming the packages. */
export function hasCrossSysroots(): boolean {
  return (
    Object.values(CROSS_SYSROOTS).every((s) => hasTool(s.qemu, "qemu-user-static")) &&
    Object.values(CROSS_SYSROOTS).every((s) => hasFiles([`/usr/${s.triplet}/lib`], s.pkg))
  );
}
