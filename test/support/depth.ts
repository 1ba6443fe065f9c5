// How deep the seeded tests go. Every property, race and chaos test takes its number of runs,
// rounds or seeds through deep(): `npm run test:deep` sets TEST_DEPTH=10 and so runs ten times as
// many of each (see docs/testing-deep.md). TEST_DEPTH=0.1 gives a quick look instead.

/** The multiplier for every seeded test's runs, rounds and seeds (TEST_DEPTH, default 1). */
export const TEST_DEPTH = (() => {
  const depth = Number(process.env.TEST_DEPTH ?? 1);
  if (!Number.isFinite(depth) || depth <= 0)
    throw new Error(`TEST_DEPTH must be a positive number, not ${process.env.TEST_DEPTH}`);
  return depth;
})();

/** `n` runs (rounds, seeds) at the normal depth; TEST_DEPTH times as many in a deep run, at least one. */
export const deep = (n: number): number => Math.max(1, Math.round(n * TEST_DEPTH));

/**
 * The seed of a test that draws at random: `process.env[name]` when set (to replay a failure), else
 * a new one, printed so that a failure can be replayed with `name=<seed>`.
 */
export function seedFrom(name: string): number {
  const given = process.env[name];
  const seed = given === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(given);
  if (!Number.isInteger(seed)) throw new Error(`${name} must be an integer, not ${given}`);
  console.log(`${name}=${seed}${given === undefined ? ' (set it to replay this run)' : ''}`);
  return seed;
}

/** mulberry32: a small seeded generator in [0, 1), so a seed replays exactly. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** `n` of `items` (all of them if n ≥ their number), drawn without repetition, in their order. */
export function sample<T>(items: readonly T[], n: number, random: () => number): T[] {
  if (n >= items.length) return [...items];
  const picked = new Set<number>();
  while (picked.size < n) picked.add(Math.floor(random() * items.length));
  return items.filter((_, i) => picked.has(i));
}
