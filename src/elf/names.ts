/**
 * Builds a name function for a family of constants: known values map to their spec
 * name, unknown values pass through as `PREFIX_0x…` so that nothing fails on an
 * unfamiliar file.
 */
export function nameTable(
  prefix: string,
  names: Record<number, string>,
): (value: number) => string {
  return (value) => names[value] ?? `${prefix}_0x${value.toString(16)}`;
}

/** Names the set bits of a flag word, unknown bits as hex. */
export function flagNames(value: number, names: Record<number, string>): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    const mask = 2 ** bit;
    if (Math.floor(value / mask) % 2 === 1) out.push(names[mask] ?? `0x${mask.toString(16)}`);
  }
  return out;
}
