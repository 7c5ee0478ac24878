/**
 * Reads the text of a plain streaming chunk without JSON.parse. Measured here on a
 * 170-character chunk, JSON.parse took about 1.2 µs and this match about 0.3 µs.
 *
 * A plain chunk has one choice whose `delta.content` (chat) or `text` (completions) is a
 * string. Every other field is null or a short scalar that carries nothing read here. Anything
 * else (a finish reason, usage, an error, tool calls, several choices, numbers with a fraction,
 * other spacing) does not match, and the caller parses it in full.
 */

/** Optional space after `:` and `,`, as Python's json.dumps writes by default. */
const SPACE = ' ?';
const NUMBER = '-?(?:0|[1-9]\\d*)';
/** A string without escapes; `(?!error")` keeps `"object":"error"` out. */
const PLAIN_STRING = '"(?!error")[^"\\\\\\x00-\\x1f]*"';
/** A JSON string, escapes included; the capture is its raw inside. */
const TEXT_STRING = '"((?:[^"\\\\\\x00-\\x1f]|\\\\.)*)"';

const topField =
  `"(?!(?:choices|error|usage)")[a-z_]+":${SPACE}(?:${NUMBER}|${PLAIN_STRING})` +
  `|"(?!choices")[a-z_]+":${SPACE}null`;
const choiceField = `"index":${SPACE}${NUMBER}|"(?!(?:delta|text|message)")[a-z_]+":${SPACE}null`;
const deltaField = `"role":${SPACE}"[a-z]+"|"(?!content")[a-z_]+":${SPACE}null`;

const before = (field: string): string => `(?:(?:${field}),${SPACE})*`;
const after = (field: string): string => `(?:,${SPACE}(?:${field}))*`;

const delta = `"delta":${SPACE}\\{${before(deltaField)}"content":${SPACE}${TEXT_STRING}${after(deltaField)}\\}`;
const text = `"text":${SPACE}${TEXT_STRING}`;
const choice = `\\{${before(choiceField)}(?:${delta}|${text})${after(choiceField)}\\}`;

const PLAIN_CHUNK = new RegExp(
  `^\\{${before(topField)}"choices":${SPACE}\\[${choice}\\]${after(topField)}\\}$`,
);

/**
 * Returns the generated text of a plain chunk ('' for a role-only first chunk), or undefined
 * when `data` is not a plain chunk and must be parsed in full.
 */
export function readPlainChunkText(data: string): string | undefined {
  const match = PLAIN_CHUNK.exec(data);
  if (match === null) return undefined;

  const raw = match[1] ?? match[2]!;
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return undefined;
  }
}
