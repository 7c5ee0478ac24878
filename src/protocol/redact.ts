/** Header names whose values are credentials and never reach logs, reports or storage. */
const SECRET_HEADER = /authorization|cookie|token|secret|password|api[-_]?key|^x-.*key$/i;

export const REDACTED = '[redacted]';

export function isSecretHeader(name: string): boolean {
  return SECRET_HEADER.test(name);
}

/** Returns a copy of the headers with credential values replaced by a marker. */
export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = isSecretHeader(name) ? REDACTED : value;
  }
  return out;
}
