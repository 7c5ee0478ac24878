/**
 * Pure pacing: given elapsed time and what was sent, these return what to do next. Only the
 * send loop reads the clock and sleeps.
 */

/** Send times of an open-loop schedule, in microseconds from the task start, in order. */
export class TokenQueue {
  #offsetsUs: number[] = [];
  #head = 0;
  #ended = false;

  push(offsetsUs: readonly number[], last: boolean): void {
    if (this.#head > 4096 && this.#head * 2 > this.#offsetsUs.length) {
      this.#offsetsUs = this.#offsetsUs.slice(this.#head);
      this.#head = 0;
    }
    for (const offset of offsetsUs) this.#offsetsUs.push(offset);
    if (last) this.#ended = true;
  }

  /** Offset of the next send, or undefined when none is queued. */
  peek(): number | undefined {
    return this.#offsetsUs[this.#head];
  }

  shift(): number | undefined {
    const offset = this.#offsetsUs[this.#head];
    if (offset !== undefined) this.#head += 1;
    return offset;
  }

  get size(): number {
    return this.#offsetsUs.length - this.#head;
  }

  /** True once the last tick has arrived. */
  get ended(): boolean {
    return this.#ended;
  }

  /** True once the last tick has arrived and every send in it has been taken. */
  get exhausted(): boolean {
    return this.#ended && this.size === 0;
  }

  /** Drops what is queued; used when the task stops early. */
  clear(): void {
    this.#offsetsUs = [];
    this.#head = 0;
  }
}

/**
 * Constant-rate slots for a closed loop under a rate cap: slot n is due n / rate seconds after
 * the start. A rate of 0 or less means no cap, so every slot is due at once.
 */
export function slotDueMs(slot: number, ratePerSec: number): number {
  if (ratePerSec <= 0) return 0;
  return (slot * 1000) / ratePerSec;
}
