import { InvalidArgumentError } from "commander";
import { compileGlobs } from "../glob.js";
import { STDIN } from "../io/input.js";
import { warn } from "./output.js";

/** For repeatable glob options: each value checked (compileGlobs) as it is read, then collected. */
export function collectGlob(value: string, previous: string[] = []): string[] {
  try {
    compileGlobs([value]);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  return collect(value, previous);
}

/** For repeatable options: `--x a --x b` gives ["a", "b"]. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** `--jobs N`: a whole number of threads from 1 to 256. */
export function parseJobs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError("must be a whole number from 1 to 256");
  return n;
}

/**
 * True when standard input (`-`) is named at most once among `inputs`: it can be read only
 * once. Otherwise says so for `command` (the caller exits with EXIT_USAGE).
 */
export function stdinAtMostOnce(command: string, inputs: readonly string[]): boolean {
  if (inputs.filter((i) => i === STDIN).length <= 1) return true;
  warn(command, "- (standard input) can be given only once");
  return false;
}
