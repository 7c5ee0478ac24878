import { ArrivalSchedule } from '../protocol/index.ts';

/**
 * How long past the last dealt arrival an open-loop agent waits for rate tokens before it paces
 * itself. Tokens come every 100 ms and reach 500 ms ahead, so by then 8 ticks were missed.
 */
export const HOLDOVER_AFTER_MS = 300;

export interface HoldoverOptions {
  /** The agent's last known share of the task's rate. */
  ratePerSec: number;
  burstiness: number;
  seed: number;
  /** Start of the holdover, in µs from the task start. */
  fromUs: number;
  /** The task's duration in µs: arrivals end there, as the coordinator's would. */
  durationUs: number;
}

/**
 * Open-loop pacing while rate tokens stop coming, because the coordinator or NATS is away: the
 * agent draws its own arrivals, with the task's burstiness, at its last known share of the rate,
 * until tokens come back.
 */
export class Holdover {
  #schedule: ArrivalSchedule;
  #fromUs: number;

  constructor(options: HoldoverOptions) {
    this.#fromUs = options.fromUs;
    this.#schedule = new ArrivalSchedule({
      ratePerSec: options.ratePerSec,
      burstiness: options.burstiness,
      seed: options.seed,
      durationUs: Math.max(0, options.durationUs - options.fromUs),
    });
  }

  /** Returns the arrivals before `untilUs`, in µs from the task start, and whether they ended. */
  take(untilUs: number): { offsetsUs: number[]; ended: boolean } {
    const offsetsUs = this.#schedule.take(untilUs - this.#fromUs).map((o) => o + this.#fromUs);
    return { offsetsUs, ended: this.#schedule.ended };
  }
}
