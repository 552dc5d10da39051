import { readdirSync } from "node:fs";

/** testdata/fixtures/, with a trailing slash. */
export const fixturesDir = new URL("../../testdata/fixtures/", import.meta.url).pathname;

/** The fixture architectures (directory names: x86_64, x86_64-musl, aarch64, …). */
export const fixtureArches = (): string[] =>
  readdirSync(fixturesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);

/** Every committed fixture file, all architectures (32- and 64-bit, both byte orders). */
export const fixtureFiles = (): string[] => fixtureArches().flatMap((a) => readdirSync(fixturesDir + a).map((f) => `${fixturesDir}${a}/${f}`));
