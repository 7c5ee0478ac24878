/** Exit codes of `loadmesh run`. */
export const EXIT = {
  ok: 0,
  /** The task ran but a limit it set (an error tolerance, a response time or an SLO) failed. */
  limitFailed: 1,
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

/** Exit code of a task that ran: it could not finish when every agent was lost. */
export function exitCodeOf(summary: { endReason: string }): number {
  if (summary.endReason !== 'agents-lost') return EXIT.ok;
  process.stderr.write(
    'error: every agent of the task was lost before it ended; the results cover what they sent\n',
  );
  return EXIT.cannotRun;
}
