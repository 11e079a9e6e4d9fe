// Command-line values the benchmark programs share the checks of.

/** `--<name>`'s value as an integer of at least `min`; a RangeError naming the option otherwise. */
export function integerOption(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be an integer >= ${min}, got ${value}`);
  return n;
}
