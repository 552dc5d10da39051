/** For repeatable options: `--x a --x b` gives ["a", "b"]. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
