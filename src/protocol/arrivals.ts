import { SeededRandom } from './random.ts';

export interface ArrivalOptions {
  ratePerSec: number;
  /** Gamma shape: 1 gives Poisson arrivals, lower is burstier, higher is more even. */
  burstiness: number;
  seed: number;
  /** Arrivals stop at this offset from the start. */
  durationUs: number;
  /** Arrivals stop after this many, when set. */
  maxArrivals?: number;
  /** Offset after which arrivals start, for a schedule that takes over from another; default 0. */
  startUs?: number;
}

/**
 * The open-loop arrival schedule of a whole task: absolute send offsets from the start, so the
 * schedule cannot drift. Gaps follow a gamma distribution with mean 1 / rate. It is pure: the
 * same options give the same offsets, and it reads no clock.
 */
export class ArrivalSchedule {
  #random: SeededRandom;
  #options: ArrivalOptions;
  #nextUs: number;
  #count = 0;
  #ended = false;

  constructor(options: ArrivalOptions) {
    this.#options = options;
    this.#random = new SeededRandom(options.seed);
    this.#nextUs = (options.startUs ?? 0) + this.#gapUs();
  }

  get ended(): boolean {
    return this.#ended;
  }

  get arrivals(): number {
    return this.#count;
  }

  /** Returns the offsets before `untilUs` that have not been returned yet, in order. */
  take(untilUs: number): number[] {
    const offsets: number[] = [];
    const { durationUs, maxArrivals } = this.#options;

    while (!this.#ended && this.#nextUs < untilUs) {
      if (this.#nextUs >= durationUs || (maxArrivals !== undefined && this.#count >= maxArrivals)) {
        this.#ended = true;
        break;
      }
      offsets.push(this.#nextUs);
      this.#count += 1;
      this.#nextUs += this.#gapUs();
    }
    if (this.#nextUs >= durationUs || (maxArrivals !== undefined && this.#count >= maxArrivals))
      this.#ended = true;
    return offsets;
  }

  #gapUs(): number {
    const { ratePerSec, burstiness } = this.#options;
    const meanUs = 1e6 / ratePerSec;
    return this.#random.gamma(burstiness, meanUs / burstiness);
  }
}
