/** A closed-loop agent's new share after another agent of the task was lost. */
export interface ClosedLoopShare {
  agentId: string;
  concurrency: number;
  addRequests?: number;
}

/**
 * Spreads a task's total concurrency over the agents still running it, and the requests that
 * a lost agent had not sent over them too, so the task keeps its load and its request count.
 */
export function closedLoopShares(
  totalConcurrency: number,
  remaining: string[],
  unsentRequests: number | undefined,
): ClosedLoopShare[] {
  return remaining.map((agentId, index) => ({
    agentId,
    concurrency: Math.max(1, shareOf(totalConcurrency, remaining.length, index)),
    ...(unsentRequests !== undefined
      ? { addRequests: shareOf(unsentRequests, remaining.length, index) }
      : {}),
  }));
}

/** Splits `total` into `parts` near-equal whole shares; lower indexes get the remainder. */
export function shareOf(total: number, parts: number, index: number): number {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}
