/**
 * A seeded pseudo-random generator that returns floats in [0, 1).
 * Not for cryptography: it picks prompt words, jitter and injected faults, where the
 * same seed must give the same sequence on every run and every platform.
 */
export type RandomSource = () => number;

/** Largest seed accepted; seeds are unsigned 32-bit integers. */
export const MAX_SEED = 0xffff_ffff;

/**
 * Creates a xorshift32 generator (Marsaglia, 2003) from a seed in 0..2^32-1.
 * The seed is first mixed with the MurmurHash3 finalizer, so neighbouring seeds such as
 * `seed + requestIndex` start far apart and seed 0 is valid.
 */
export function createRandom(seed: number): RandomSource {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`invalid seed ${seed}: expected an integer from 0 to ${MAX_SEED}`);
  }

  let state = mixSeed(seed);
  // Xorshift has one fixed point, the all-zero state, so that state is replaced.
  if (state === 0) state = 0x6d2b_79f5;

  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
}

/** Returns an integer in [0, maxExclusive) drawn from `random`. */
export function randomInt(random: RandomSource, maxExclusive: number): number {
  return Math.floor(random() * maxExclusive);
}

/** Derives the seed of one item (a request, a prompt) from a run seed and the item's index. */
export function deriveSeed(seed: number, index: number): number {
  return mixSeed((seed + Math.imul(index, 0x9e37_79b9)) >>> 0);
}

function mixSeed(seed: number): number {
  let hash = seed >>> 0;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85eb_ca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2_ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
