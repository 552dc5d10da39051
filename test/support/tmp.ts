import { dir } from "tmp-promise";
import { afterAll, beforeAll } from "vitest";

/**
 * A fresh temporary directory for the test file: made before its tests (its path handed to
 * `set`), removed with everything in it after them.
 */
export function withTmpDir(set: (path: string) => void): void {
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const d = await dir({ unsafeCleanup: true });
    set(d.path);
    cleanup = d.cleanup;
  });
  afterAll(() => cleanup?.());
}
