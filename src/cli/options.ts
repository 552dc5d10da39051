import { InvalidArgumentError } from "commander";

/** For repeatable options: `--x a --x b` gives ["a", "b"]. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** `--jobs N`: a whole number of threads from 1 to 256. */
export function parseJobs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError("must be a whole number from 1 to 256");
  return n;
}
