/**
 * nginx directives and log parsers that show what reached the server: statuses, byte counts
 * and request bodies.
 */

/** Log file, in the server's folder, of the body routes made by `bodyRoute`. */
export const BODY_LOG = 'bodies.log';

/**
 * http-level directives for `startNginx({ http })`. The body log keeps bodies JSON-escaped, so
 * that a body with line breaks stays on one line.
 */
export const BODY_LOG_FORMAT = `log_format lm_body escape=json '$status $content_length $request_body';`;

/**
 * Builds a location that reads each request body and logs it to `BODY_LOG` and to the access log, whose
 * directive it repeats with the same parameters because a location's `access_log` replaces the
 * inherited one.
 * nginx's `return` discards a body unread and leaves `$request_body` empty, so this route passes
 * the request on to a second location on the same server, which makes nginx read the body first.
 */
export function bodyRoute(path: string, status = 200): string {
  const sink = `/__sink${status}${path.replace(/[^A-Za-z0-9]/g, '_')}`;
  return `
    location = ${path} {
      client_body_in_single_buffer on;
      client_max_body_size 10m;
      client_body_buffer_size 1m;
      access_log access.log lm buffer=64k flush=100ms;
      access_log ${BODY_LOG} lm_body;
      proxy_pass http://127.0.0.1:$server_port${sink};
    }
    location = ${sink} {
      access_log off;
      return ${status} "stored\\n";
    }`;
}

/** One line of the access log that `startNginx` writes. */
export interface AccessLine {
  status: number;
  /** Request line, headers and body as read by nginx: our bytesSent. */
  requestLength: number;
  /** Status line, headers and body as sent by nginx: our bytesReceived. */
  bytesSent: number;
  uri: string;
}

export function parseAccessLine(line: string): AccessLine {
  const [status, requestLength, bytesSent, uri] = line.split(' ');
  return {
    status: Number(status),
    requestLength: Number(requestLength),
    bytesSent: Number(bytesSent),
    uri: uri ?? '',
  };
}

/** One line of `BODY_LOG`. */
export interface BodyLine {
  status: number;
  /** The Content-Length header of the request, in bytes. */
  contentLength: number;
  /** The request body as nginx read it, unescaped. */
  body: string;
}

export function parseBodyLine(line: string): BodyLine {
  const first = line.indexOf(' ');
  const second = line.indexOf(' ', first + 1);
  const escaped = second === -1 ? '' : line.slice(second + 1);
  return {
    status: Number(line.slice(0, first)),
    contentLength: Number(line.slice(first + 1, second === -1 ? undefined : second)),
    // escape=json writes the value as the inside of a JSON string.
    body: JSON.parse(`"${escaped}"`) as string,
  };
}

/** Counts each value of `items`, keyed by its string form. */
export function countBy<T>(items: T[], key: (item: T) => string | number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const k = String(key(item));
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/** Sums `value` over `items`. */
export function sumOf<T>(items: T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}
