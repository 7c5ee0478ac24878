/** Exit codes of `loadmesh run`. */
export const EXIT = {
  ok: 0,
  /** The task ran, but no request succeeded. */
  noneSucceeded: 1,
  /** The task could not run: bad config, data or flags, or a failed preflight. */
  cannotRun: 2,
  /** An unexpected failure inside loadmesh. */
  internal: 3,
} as const;

/** Prints an error on stderr and returns the exit code for a task that could not run. */
export function fail(message: string): number {
  process.stderr.write(`error: ${message}\n`);
  return EXIT.cannotRun;
}

/**
 * Exit code of a task that ran: it could not finish when every agent was lost, and it failed
 * when it sent requests and none of them succeeded.
 */
export function exitCodeOf(summary: {
  endReason: string;
  totals: { sent: number; ok: number };
}): number {
  if (summary.endReason === 'agents-lost') {
    process.stderr.write(
      'error: every agent of the task was lost before it ended; the results cover what they sent\n',
    );
    return EXIT.cannotRun;
  }
  if (summary.totals.sent > 0 && summary.totals.ok === 0) {
    process.stderr.write(
      `error: none of the ${summary.totals.sent} requests succeeded; the summary counts them by error kind and status\n`,
    );
    return EXIT.noneSucceeded;
  }
  return EXIT.ok;
}
