/**
 * Seeded random numbers for arrival schedules. sfc32 (Chris Doty-Humphrey's Small Fast Counter)
 * passes PractRand far past what one test draws, and a 32-bit seed maps to one stream.
 */
export class SeededRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    // Discard the first outputs so nearby seeds give unrelated streams.
    for (let i = 0; i < 16; i++) this.#nextUint32();
  }

  /** Returns a double in (0, 1): never exactly 0, so logarithms of it are finite. */
  next(): number {
    const high = this.#nextUint32() >>> 5;
    const low = this.#nextUint32() >>> 6;
    return (high * 67108864 + low + 0.5) / 9007199254740992;
  }

  /** Returns a standard normal variate (Box-Muller). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.next())) * Math.cos(2 * Math.PI * this.next());
  }

  /** Returns a gamma variate with the given shape and scale (Marsaglia and Tsang, 2000). */
  gamma(shape: number, scale: number): number {
    if (shape < 1) {
      // Boost: Gamma(k) = Gamma(k + 1) * U^(1/k).
      return this.gamma(shape + 1, scale) * Math.pow(this.next(), 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v * scale;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v * scale;
    }
  }

  #nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }
}
