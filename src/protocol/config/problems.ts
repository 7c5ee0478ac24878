import { closest, distance } from 'fastest-levenshtein';

/** One thing wrong with a task config: where, the value found, what is wrong and how to fix it. */
export interface ConfigProblem {
  path: string;
  value: unknown;
  message: string;
  fix: string;
}

/** A task config that cannot run, with every problem found in it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'ERR_INVALID_CONFIG';

  constructor(readonly problems: ConfigProblem[]) {
    super(formatProblems(problems));
  }
}

export function formatProblems(problems: ConfigProblem[]): string {
  const lines = problems.map((p) => `  ${p.path}: ${p.message}${p.fix ? `. Fix: ${p.fix}` : ''}`);
  const noun = problems.length === 1 ? 'problem' : 'problems';
  return `invalid task config (${problems.length} ${noun}):\n${lines.join('\n')}`;
}

/** Renders a config value for an error message, short enough for one line. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  const text =
    typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Returns the candidate nearest to `key` when it is close enough to be a likely typo. */
export function suggestKey(key: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;

  const lowered = key.toLowerCase();
  const caseOnly = candidates.find((c) => c.toLowerCase() === lowered);
  if (caseOnly) return caseOnly;

  const best = closest(key, candidates as string[]);
  const maxDistance = Math.max(2, Math.floor(key.length / 3));
  if (distance(key, best) <= maxDistance) return best;

  // A shortened key, such as inputLen for inputLength, is far in edits but plain to a reader.
  const extensions = candidates.filter(
    (c) => lowered.length >= 4 && c.toLowerCase().startsWith(lowered),
  );
  return extensions.length === 1 ? extensions[0] : undefined;
}
