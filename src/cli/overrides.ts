/** A command-line flag that could not be applied to the task config. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'ERR_USAGE';
}

type Json = Record<string, unknown>;

/** Sets a dotted key such as `optional.concurrency` in a raw config, creating sections. */
export function setPath(config: Json, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = config;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Json;
  }
  node[keys[keys.length - 1]!] = value;
}

/**
 * Parses `key=value` from -D: numbers, true and false, and JSON objects or lists become those
 * types; anything else stays a string.
 */
export function parseDefine(define: string): [string, unknown] {
  const eq = define.indexOf('=');
  if (eq <= 0)
    throw new UsageError(
      `-D${define} is not of the form key=value. Fix: write e.g. -Doptional.concurrency=4`,
    );
  const key = define.slice(0, eq).trim();
  const text = define.slice(eq + 1).trim();

  if (text === 'true' || text === 'false') return [key, text === 'true'];
  if (text !== '' && Number.isFinite(Number(text))) return [key, Number(text)];
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      return [key, JSON.parse(text)];
    } catch {
      throw new UsageError(
        `-D${key}: ${text} is not valid JSON. Fix: quote the value for the shell, e.g. -D'${key}={"a": "b"}'`,
      );
    }
  }
  return [key, text];
}

/** Parses a number flag, naming the flag and the value when it is not a number. */
export function numberFlag(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value))
    throw new UsageError(
      `--${flag} ${JSON.stringify(text)} is not a number. Fix: give e.g. --${flag} 10`,
    );
  return value;
}

/** Parses a duration flag: plain seconds, or a number with ms, s, m or h. */
export function durationFlagSec(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match)
    throw new UsageError(
      `--${flag} ${JSON.stringify(text)} is not a duration. Fix: give seconds or a unit, e.g. --${flag} 30s or 5m`,
    );
  const scale = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] ?? 's']!;
  return Number(match[1]) * scale;
}
