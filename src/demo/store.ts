// The demo's store: each package in its own path `STORE/<32 characters>-NAME`, the hash made
// from what the package is built from (sources, flags, the basenames of its inputs' paths), as
// Nix makes its input hashes; the builds with gcc from the C sources in the package's demo/.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { nixBase32 } from "../abi/hash.js";
import { DemoError } from "../errors.js";
import { PACKAGE_ROOT, type Session } from "./session.js";

/** The committed manifest of libdemo 1.0 (abilink abi --hints), relative to the package root. */
export const COMMITTED_MANIFEST = "demo/libdemo.abi";

/** libdemo's releases: 1.0, its security fix (same ABI) and an ABI-breaking 2.0. */
export const RELEASES = {
  "1.0": [1, 0, 0],
  "1.0.1": [1, 0, 1],
  "2.0": [2, 0, 0],
} as const;
export type Release = keyof typeof RELEASES;

const source = (name: string) => readFileSync(`${PACKAGE_ROOT}/demo/${name}`, "utf8");

/** `STORE/<hash>-NAME`, the hash a function of NAME and INPUTS (store paths count by their basename). */
export function storePath(store: string, name: string, inputs: string[]): string {
  const text = [name, ...inputs.map((i) => (i.startsWith("/") ? basename(i) : i))].join("\0");
  return `${store}/${nixBase32(createHash("sha256").update(text).digest().subarray(0, 20))}-${name}`;
}

/** A new package directory DIR/SUB (made, with its parents). */
function packageDir(dir: string, sub: string): string {
  mkdirSync(`${dir}/${sub}`, { recursive: true });
  return `${dir}/${sub}`;
}

/** libdemo RELEASE built with gcc: its library's path. */
export async function buildLibdemo(s: Session, store: string, release: Release): Promise<string> {
  const [major, minor, patch] = RELEASES[release];
  const defines = [`-DDEMO_MAJOR=${major}`, `-DDEMO_MINOR=${minor}`, `-DDEMO_PATCH=${patch}`];
  const out = storePath(store, `libdemo-${release}`, [...defines, ...["demo.h", "libdemo.c", "libdemo.map"].map(source)]);
  const lib = `${packageDir(out, "lib")}/libdemo.so.1`;
  await s.run(["gcc", "-shared", "-fPIC", "-O2", ...defines, "-Wl,-soname,libdemo.so.1", "-Wl,--version-script,demo/libdemo.map", "-o", lib, "demo/libdemo.c"]);
  return lib;
}

/** The packages built against libdemo's stub: store paths, before relinking. */
export interface Unlinked {
  greeting: string;
  hello: string;
  banner: string;
}

/**
 * libgreeting, hello and banner compiled and linked against the stub in STUB/lib (not the
 * library): their RUNPATH names the stub's directory, and banner's names libgreeting's.
 */
export async function buildAgainstStub(s: Session, store: string, stub: string): Promise<Unlinked> {
  const stubLib = `${stub}/lib`;
  const greeting = storePath(store, "libgreeting-1.0-unlinked", [stub, source("greeting.c"), source("greeting.h")]);
  const hello = storePath(store, "hello-1.0-unlinked", [stub, source("hello.c")]);
  const banner = storePath(store, "banner-1.0-unlinked", [greeting, source("banner.c")]);
  const against = (lib: string, dir: string) => [`-L${dir}`, `-l:${lib}`, `-Wl,-rpath,${dir}`];
  await s.run(["gcc", "-shared", "-fPIC", "-O2", "-Idemo", "-Wl,-soname,libgreeting.so.1", "-o", `${packageDir(greeting, "lib")}/libgreeting.so.1`, "demo/greeting.c", ...against("libdemo.so.1", stubLib)]);
  await s.run(["gcc", "-O2", "-Idemo", "-o", `${packageDir(hello, "bin")}/hello`, "demo/hello.c", ...against("libdemo.so.1", stubLib)]);
  await s.run(["gcc", "-O2", "-Idemo", "-o", `${packageDir(banner, "bin")}/banner`, "demo/banner.c", ...against("libgreeting.so.1", `${greeting}/lib`)]);
  return { greeting, hello, banner };
}

/** Runs PROGRAM and returns the libdemo version it printed ("libdemo 1.0"). */
export async function printedVersion(s: Session, program: string): Promise<string> {
  const r = await s.run([program]);
  const m = /\blibdemo (\d+(?:\.\d+)+)/.exec(r.stdout);
  if (!m) throw new DemoError(s.short(`step ${s.step}: ${program} printed no libdemo version: ${r.stdout.trim()}`));
  return m[1]!;
}
