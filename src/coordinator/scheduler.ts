export { ArrivalSchedule, type ArrivalOptions } from '../protocol/index.ts';

/**
 * Deals offsets to agents in proportion to their weights (free capacity), by smooth weighted
 * round robin, so each agent's share is spread over the tick rather than bunched.
 */
export class TokenDealer {
  #weights: number[];
  #current: number[];

  constructor(weights: number[]) {
    this.#weights = weights;
    this.#current = weights.map(() => 0);
  }

  /** Returns each agent's fraction of the offsets, from its weight. */
  shares(): number[] {
    const total = this.#weights.reduce((a, b) => a + b, 0);
    return this.#weights.map((weight) => weight / total);
  }

  deal(offsetsUs: number[]): number[][] {
    const hands: number[][] = this.#weights.map(() => []);
    const total = this.#weights.reduce((a, b) => a + b, 0);

    for (const offset of offsetsUs) {
      let best = 0;
      for (let i = 0; i < this.#weights.length; i++) {
        this.#current[i]! += this.#weights[i]!;
        if (this.#current[i]! > this.#current[best]!) best = i;
      }
      this.#current[best]! -= total;
      hands[best]!.push(offset);
    }
    return hands;
  }
}

/** Smallest token weight, so that an agent without free capacity still gets a share to measure. */
const MIN_TOKEN_WEIGHT = 0.05;

/** Returns TokenDealer weights: each agent's free capacity, or 1 before its first heartbeat. */
export function tokenWeights(agents: { freeCapacity?: number }[]): number[] {
  return agents.map((agent) => Math.max(MIN_TOKEN_WEIGHT, agent.freeCapacity ?? 1));
}
