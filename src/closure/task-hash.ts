import { abiHash } from "../abi/hash.js";
import { loadManifest } from "../abi/load.js";
import { failure, type HashOutcome } from "./outcomes.js";

/** Hashes one library or manifest; never throws. */
export function hashOne(path: string): HashOutcome {
  try {
    const { manifest, warning } = loadManifest(path);
    return { kind: "hash", path, hash: abiHash(manifest), ...(warning ? { warning } : {}) };
  } catch (e) {
    return failure(path, e);
  }
}
